package org.melanoma.demo;

import android.content.Context;
import android.content.res.AssetManager;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.melanoma.demo.core.ManifestException;
import org.melanoma.demo.core.ModelFiles;
import org.melanoma.demo.core.ModelFolders;

/**
 * Where the model lives on the phone.
 *
 * <ul>
 *   <li><b>installed</b>: {@code files/model/} (app-private). The app only ever loads from here.
 *   <li><b>bundled</b>: {@code assets/model/} in the APK (written by prepare_model.sh). Copied to
 *       installed on first run, and again when the APK bundles a different model, unless a model
 *       pushed with adb is installed or this bundled model was rolled back (declined). A bundled
 *       pair that fails the manifest and sha256 checks is not installed, as a pushed one.
 *   <li><b>pushed</b>: {@code /sdcard/Android/data/org.melanoma.demo/files/model/}, writable with
 *       {@code adb push} (push_model.sh). On start, a pushed pair that passes the manifest and
 *       sha256 checks replaces the installed model and is removed from there; a pair that fails
 *       is left in place and reported, and the previous model stays.
 * </ul>
 *
 * <p>The last model that loaded is kept ({@link ModelFolders}) until a new one has loaded: the
 * caller says {@link #keepInstalled} or {@link #rollBack}, holding {@link #INSTALL_LOCK}.
 */
final class ModelStore {
    /**
     * Held from prepare to keepInstalled or rollBack (ModelHolder.load): two holders must not
     * interleave installs with loads, or one would roll back the model the other installed.
     */
    static final Object INSTALL_LOCK = new Object();

    private static final String ASSETS = "model";

    /** The end of the line that names a model the button "Try the model again" would load. */
    static String tryAgainLine(String model) {
        return "Tap \"Try the model again\" to load " + model + " anyway.";
    }

    /** The verified model to load, and a note for the screen about where it came from. */
    static final class Prepared {
        final ModelFiles files;
        final String note;

        Prepared(ModelFiles files, String note) {
            this.files = files;
            this.note = note;
        }
    }

    private final Context context;
    private final ModelFolders folders;

    ModelStore(Context context) {
        this.context = context.getApplicationContext();
        this.folders = new ModelFolders(this.context.getFilesDir());
    }

    /** The pushed-model folder (null if shared storage is unavailable). */
    File pushedDir() {
        return context.getExternalFilesDir("model");
    }

    /** Install the bundled or pushed model as needed, then open and verify the installed one. */
    Prepared prepare() throws IOException, ManifestException {
        // An activity started again right after the previous one finished gets a new
        // ModelHolder, with its own worker, while the old one may still be copying: both would
        // delete and rename the same folders. (A merely recreated activity shares the worker.)
        synchronized (INSTALL_LOCK) {
            return prepareLocked();
        }
    }

    /**
     * The installed model did not load: put back the last one that did and open that. Null if
     * there is none (a first install). {@code why}: the line on screen, kept while a bundled
     * model is declined.
     */
    Prepared rollBack(String why) throws IOException, ManifestException {
        synchronized (INSTALL_LOCK) {
            if (!folders.rollBack(why)) {
                return null;
            }
            return new Prepared(ModelFiles.open(folders.installed), "");
        }
    }

    /** A load of the installed model begins; false if one never ended on an earlier start. */
    boolean beginLoad() {
        synchronized (INSTALL_LOCK) {
            return folders.beginLoad();
        }
    }

    /** Whether the installed model took the app down while loading and is not tried again. */
    boolean crashedLoading() {
        synchronized (INSTALL_LOCK) {
            return folders.crashedLoading();
        }
    }

    /** Whether "Try the model again" has a model to try: one that crashed or was declined. */
    boolean canTryAgain() {
        synchronized (INSTALL_LOCK) {
            try {
                return folders.crashedLoading() || declinedBundled(bundledStamp()) != null;
            } catch (IOException e) {
                return false;
            }
        }
    }

    /** The line saying why the bundled model was declined, or null if it is not. */
    String declinedLine() {
        synchronized (INSTALL_LOCK) {
            try {
                return declinedBundled(bundledStamp());
            } catch (IOException e) {
                return null;
            }
        }
    }

    /** The user asked to try the model again: one that crashed, or the declined bundled one. */
    void tryAgain() {
        synchronized (INSTALL_LOCK) {
            folders.tryAgain();
        }
    }

    /** The load ended without taking the app down (loaded or refused). */
    void endLoad() {
        synchronized (INSTALL_LOCK) {
            folders.endLoad();
        }
    }

    /** The installed model loaded: mark it, and forget the one it replaced. */
    void keepInstalled() {
        synchronized (INSTALL_LOCK) {
            folders.keepInstalled();
        }
    }

    private Prepared prepareLocked() throws IOException, ManifestException {
        StringBuilder note = new StringBuilder();
        folders.recover();
        String stamp = bundledStamp();
        String source = folders.source();
        boolean fromAssets = source.isEmpty() || source.startsWith("assets");
        if (stamp != null && fromAssets && !source.equals("assets " + stamp)) {
            String declined = declinedBundled(stamp);
            if (declined == null) {
                note.append(installFromAssets(stamp));
            } else {
                note.append(declined).append(' '); // it says why, and names the button
            }
        }
        File pushed = pushedDir();
        if (pushed != null) {
            note.append(importPushed(pushed));
        }
        try {
            return new Prepared(ModelFiles.open(folders.installed), note.toString().trim());
        } catch (ManifestException e) {
            throw new ManifestException(e.getMessage() + (stamp == null && source.isEmpty()
                    ? ". This build has no bundled model: run android_demo/prepare_model.sh"
                            + " before building, or push one with android_demo/push_model.sh."
                    : ""), e);
        }
    }

    /** Why the bundled model was rolled back on an earlier start, or null if it was not. */
    private String declinedBundled(String stamp) throws IOException {
        return stamp == null ? null : folders.declined("assets " + stamp);
    }

    private String importPushed(File pushed) {
        try {
            if (ModelFiles.findManifest(pushed) == null) {
                return "";
            }
            ModelFiles files = ModelFiles.open(pushed);
            File staging = folders.freshStaging();
            for (File file : new File[] {files.manifestFile, files.artifact}) {
                copy(new FileInputStream(file), new File(staging, file.getName()));
            }
            folders.swapIn("adb");
            files.manifestFile.delete();
            files.artifact.delete();
            return "Using the model pushed with adb (" + files.manifest.modelName + ").";
        } catch (ManifestException | IOException e) {
            return "The model pushed to " + pushed + " was rejected: " + e.getMessage()
                    + ". Keeping the previous model.";
        }
    }

    /**
     * Install the bundled model unless its manifest is refused (a newer toolkit's, say, bundled
     * by a prepare_model.sh that ran another toolkit): installed, it left no usable model on
     * every start, with the last one that loaded kept aside. Then the installed model stays, as
     * for a refused pushed model; with none, the refusal is the error. The note for the screen.
     */
    private String installFromAssets(String stamp) throws IOException, ManifestException {
        AssetManager assets = context.getAssets();
        File staging = folders.freshStaging();
        for (String name : assets.list(ASSETS)) {
            copy(assets.open(ASSETS + "/" + name), new File(staging, name));
        }
        try {
            ModelFiles.open(staging);
        } catch (ManifestException e) {
            folders.discardStaging();
            if (!folders.installed.isDirectory()) {
                throw e;
            }
            return "The model bundled with the app was rejected: " + e.getMessage()
                    + ". Keeping the previous model. ";
        }
        folders.swapIn("assets " + stamp);
        return "Installed the model bundled with the app. ";
    }

    /** sha256 of the bundled manifest text (it names the artifact's sha256), or null if none. */
    private String bundledStamp() throws IOException {
        String[] names = context.getAssets().list(ASSETS);
        if (names == null) {
            return null;
        }
        for (String name : names) {
            if (name.endsWith(ModelFiles.MANIFEST_SUFFIX)) {
                try (InputStream in = context.getAssets().open(ASSETS + "/" + name)) {
                    return sha256(in);
                }
            }
        }
        return null;
    }

    private static void copy(InputStream from, File to) throws IOException {
        try (InputStream in = from; OutputStream out = new FileOutputStream(to)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                out.write(buffer, 0, n);
            }
        }
    }

    private static String sha256(InputStream in) throws IOException {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
            StringBuilder hex = new StringBuilder();
            for (byte b : digest.digest()) {
                hex.append(Character.forDigit((b >> 4) & 0xf, 16))
                        .append(Character.forDigit(b & 0xf, 16));
            }
            return hex.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }
}
