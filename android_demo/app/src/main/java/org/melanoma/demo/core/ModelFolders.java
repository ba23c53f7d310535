package org.melanoma.demo.core;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The installed model folder, the one being copied in, and the last one that loaded.
 *
 * <p>A pushed or newly bundled model can pass every manifest check and still be refused by
 * ExecuTorch (a .pte from another release). So a swap keeps the replaced folder as
 * {@code previous} if it had loaded ({@link #keepInstalled} marks it), and {@link #rollBack}
 * puts it back when the new one does not load. A folder that never loaded is not worth going
 * back to: two swaps before a load keep the older, loaded one. Every step is a folder rename,
 * so a crash between two steps leaves a state {@link #recover} repairs on the next start.
 *
 * <p>A new model can also take the app down while it loads (a native crash in ExecuTorch, or the
 * system killing the app for memory), before any code could roll it back. {@link #beginLoad}
 * marks the load and {@link #endLoad} clears the mark, so the next start sees that a load never
 * ended and goes back to the previous model instead of dying on it again on every start; with
 * none to go back to, it does not load the model until the user asks to ({@link #tryAgain}).
 *
 * <p>A bundled model that was rolled back is declined ({@link #declined}): the APK still bundles
 * it, and installed again on the next start it would crash the app, or be refused, again: every
 * other start. It stays declined until {@link #tryAgain}, until a pushed model has loaded, or
 * while the APK bundles another model.
 */
public final class ModelFolders {
    private static final String SOURCE_FILE = ".source";
    private static final String LOADED_FILE = ".loaded"; // this folder's model has loaded
    private static final String LOADING_FILE = ".loading"; // a load began and has not ended
    private static final String ASSETS_SOURCE = "assets"; // how a bundled model's source starts

    /** The only folder a model is loaded from. */
    public final File installed;
    /** Where a new model is copied before it replaces the installed one. */
    public final File staging;
    /** The last model that loaded, kept while the installed one has not. */
    public final File previous;
    /** A refused model on its way out of {@link #rollBack}. */
    private final File refused;
    /** The source of a bundled model that was rolled back, and the line that says why. */
    private final File declinedFile;

    /** {@code parent/model}, {@code .new}, {@code .prev}, {@code .refused} and {@code .declined}. */
    public ModelFolders(File parent) {
        this.installed = new File(parent, "model");
        this.staging = new File(parent, "model.new");
        this.previous = new File(parent, "model.prev");
        this.refused = new File(parent, "model.refused");
        this.declinedFile = new File(parent, "model.declined");
    }

    /**
     * Repair what a crash left: no installed model between two renames (restore the previous
     * one), or a previous folder whose delete was cut short (after a load, {@link
     * #keepInstalled} deletes it file by file): a manifest without its model, say, which a later
     * {@link #rollBack} would install in place of a model that works.
     */
    public void recover() throws IOException {
        if (previous.isDirectory() && !holdsModel(previous)) {
            deleteTree(previous);
        }
        if (!installed.exists() && previous.isDirectory()) {
            rename(previous, installed);
        }
        deleteTree(refused);
    }

    /** An empty staging folder to copy a new model into. */
    public File freshStaging() throws IOException {
        deleteTree(staging);
        if (!staging.mkdirs()) {
            throw new IOException("cannot create " + staging);
        }
        return staging;
    }

    /** Remove the staging folder: its model was refused. */
    public void discardStaging() {
        deleteTree(staging);
    }

    /** Install the staging folder, recording where it came from; keep the replaced one if it
     * had loaded. */
    public void swapIn(String source) throws IOException {
        writeUtf8(new File(staging, SOURCE_FILE), source);
        if (new File(installed, LOADED_FILE).isFile()) {
            deleteTree(previous);
            rename(installed, previous);
        } else {
            deleteTree(installed); // never loaded: previous, if any, stays the one to go back to
        }
        rename(staging, installed);
    }

    /**
     * Go back to the last model that loaded; false if there is none (a first install). A bundled
     * model is declined first, with {@code why} (the line on screen), so that a crash between the
     * renames still finds it declined.
     */
    public boolean rollBack(String why) throws IOException {
        if (!previous.isDirectory()) {
            return false;
        }
        String source = source();
        if (source.startsWith(ASSETS_SOURCE)) {
            try {
                writeUtf8(declinedFile, source + "\n" + why);
            } catch (IOException e) {
                // Not declined, it is installed again on the next start, as before: no worse.
            }
        }
        // Renames first, the delete last: a crash midway never leaves half a folder installed.
        deleteTree(refused);
        if (installed.exists()) {
            rename(installed, refused);
        }
        rename(previous, installed);
        deleteTree(refused);
        return true;
    }

    /**
     * A load of the installed model begins. False if a load of it began on an earlier start and
     * never ended (the app died in it): tried again, it would take the app down on every start,
     * even if it loaded once (now short of memory, say). The caller goes back to the previous
     * model, or, with none to go back to, leaves the mark until {@link #tryAgain}.
     */
    public boolean beginLoad() {
        File mark = new File(installed, LOADING_FILE);
        if (mark.isFile()) {
            return false;
        }
        try {
            writeUtf8(mark, "");
        } catch (IOException e) {
            // Unmarked, a load that kills the app is tried again on the next start, no worse.
        }
        return true;
    }

    /** Whether a load of the installed model took the app down and is not tried again. */
    public boolean crashedLoading() {
        return new File(installed, LOADING_FILE).isFile();
    }

    /**
     * Why the bundled model from {@code source} ("assets STAMP") was rolled back on an earlier
     * start, or null if it was not declined: then it may be installed.
     */
    public String declined(String source) throws IOException {
        String text = readUtf8(declinedFile);
        int end = text.indexOf('\n');
        return end >= 0 && text.substring(0, end).equals(source) ? text.substring(end + 1) : null;
    }

    /**
     * The user asked to try the model again: the next {@link #beginLoad} loads the installed
     * one though it crashed or, if it did not, a declined bundled model is installed again. One
     * at a time, the installed one first: the line on screen names that one.
     */
    public void tryAgain() {
        if (!new File(installed, LOADING_FILE).delete()) {
            declinedFile.delete();
        }
    }

    /** The load that {@link #beginLoad} marked ended, loaded or refused, without killing the
     * app. */
    public void endLoad() {
        new File(installed, LOADING_FILE).delete();
    }

    /**
     * The installed model loaded: mark it so, and forget the one it replaced. A pushed model that
     * loaded also ends a bundled model's decline: no bundled model is installed over it. Not at
     * its swap: rolled back, a push would let the declined model in again on the next start.
     */
    public void keepInstalled() {
        try {
            writeUtf8(new File(installed, LOADED_FILE), "");
            if (!source().startsWith(ASSETS_SOURCE)) {
                declinedFile.delete();
            }
        } catch (IOException e) {
            return; // unmarked, it is replaced without a backup later: keep the previous one
        }
        deleteTree(previous);
    }

    /** Where the installed model came from ("assets STAMP" or "adb"), or "" if unknown. */
    public String source() throws IOException {
        return readUtf8(new File(installed, SOURCE_FILE)).trim();
    }

    private static boolean holdsModel(File dir) {
        try {
            ModelFiles.open(dir);
            return true;
        } catch (ManifestException e) {
            return false;
        }
    }

    private static void rename(File from, File to) throws IOException {
        if (!from.renameTo(to)) {
            throw new IOException("cannot move " + from + " to " + to);
        }
    }

    /** A small file's text (its first 4 KB), or "" if there is no such file. */
    private static String readUtf8(File file) throws IOException {
        if (!file.isFile()) {
            return "";
        }
        InputStream in = new FileInputStream(file);
        try {
            byte[] bytes = new byte[(int) Math.min(file.length(), 4096)];
            int n = 0;
            for (int got; n < bytes.length && (got = in.read(bytes, n, bytes.length - n)) > 0; ) {
                n += got;
            }
            return new String(bytes, 0, n, "UTF-8");
        } finally {
            in.close();
        }
    }

    private static void writeUtf8(File file, String text) throws IOException {
        OutputStream out = new FileOutputStream(file);
        try {
            out.write(text.getBytes("UTF-8"));
        } finally {
            out.close();
        }
    }

    private static void deleteTree(File file) {
        File[] children = file.listFiles();
        if (children != null) {
            for (File child : children) {
                deleteTree(child);
            }
        }
        file.delete();
    }
}
