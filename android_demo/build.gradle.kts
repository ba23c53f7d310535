// AGP 8.9 needs Gradle 8.11.1+ (see gradle/wrapper/gradle-wrapper.properties) and JDK 17.
plugins {
    id("com.android.application") version "8.9.0" apply false
}
