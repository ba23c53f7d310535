plugins {
    id("com.android.application")
}

android {
    namespace = "org.melanoma.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.melanoma.demo"
        minSdk = 26 // BitmapFactory.Options.inPreferredColorSpace: photos decoded to sRGB
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            // The ExecuTorch AAR ships native code for exactly these two ABIs.
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_11
        targetCompatibility = JavaVersion.VERSION_11
    }

    androidResources {
        noCompress += "pte" // copied to the files dir as is on first run
    }
}

dependencies {
    // Must match the executorch that exported the .pte: executorch==1.5.1 in pyproject.toml.
    implementation("org.pytorch:executorch-android:1.5.1")
    implementation("androidx.activity:activity:1.9.3") // photo picker + TakePicture contracts
    implementation("androidx.core:core:1.13.1") // FileProvider for the camera photo
    implementation("androidx.exifinterface:exifinterface:1.3.7") // camera photo orientation
    testImplementation("junit:junit:4.13.2")
}

// The JVM tests under src/test are the ones android_demo/jvm-tests.sh runs. Their golden files
// come from `pytest tests/android`; pass the dir with ./gradlew test -PmelanomaGolden=DIR
// (without it the golden tests are skipped here, and only here).
tasks.withType<Test>().configureEach {
    systemProperty("melanoma.golden", providers.gradleProperty("melanomaGolden").getOrElse(""))
}
