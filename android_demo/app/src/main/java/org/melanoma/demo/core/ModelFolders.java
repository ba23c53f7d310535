package org.melanoma.demo.core;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The installed model folder, the one being copied in, and the one it replaced.
 *
 * <p>A pushed or newly bundled model can pass every manifest check and still be refused by
 * ExecuTorch (a .pte from another release). So a swap keeps the replaced folder as
 * {@code previous} until the new model has loaded once ({@link #keepInstalled}); if it does not
 * load, {@link #rollBack} puts the previous one back. Every step is a folder rename, so a crash
 * between two steps leaves a state {@link #recover} repairs on the next start.
 */
public final class ModelFolders {
    private static final String SOURCE_FILE = ".source";

    /** The only folder a model is loaded from. */
    public final File installed;
    /** Where a new model is copied before it replaces the installed one. */
    public final File staging;
    /** What the last swap replaced, kept until the new model has loaded. */
    public final File previous;

    /** {@code parent/model}, {@code parent/model.new} and {@code parent/model.prev}. */
    public ModelFolders(File parent) {
        this.installed = new File(parent, "model");
        this.staging = new File(parent, "model.new");
        this.previous = new File(parent, "model.prev");
    }

    /** A crash between the two renames of {@link #swapIn} left no installed model: restore it. */
    public void recover() throws IOException {
        if (!installed.exists() && previous.isDirectory()) {
            rename(previous, installed);
        }
    }

    /** An empty staging folder to copy a new model into. */
    public File freshStaging() throws IOException {
        deleteTree(staging);
        if (!staging.mkdirs()) {
            throw new IOException("cannot create " + staging);
        }
        return staging;
    }

    /** Install the staging folder, recording where it came from; keep the replaced one. */
    public void swapIn(String source) throws IOException {
        writeUtf8(new File(staging, SOURCE_FILE), source);
        deleteTree(previous);
        if (installed.exists()) {
            rename(installed, previous);
        }
        rename(staging, installed);
    }

    /** Undo the last swap; false if there is nothing to go back to (a first install). */
    public boolean rollBack() throws IOException {
        if (!previous.isDirectory()) {
            return false;
        }
        deleteTree(installed);
        rename(previous, installed);
        return true;
    }

    /** The installed model loaded: the one it replaced is no longer needed. */
    public void keepInstalled() {
        deleteTree(previous);
    }

    /** Where the installed model came from ("assets STAMP" or "adb"), or "" if unknown. */
    public String source() throws IOException {
        File file = new File(installed, SOURCE_FILE);
        if (!file.isFile()) {
            return "";
        }
        InputStream in = new FileInputStream(file);
        try {
            byte[] bytes = new byte[(int) Math.min(file.length(), 256)];
            int n = in.read(bytes);
            return n <= 0 ? "" : new String(bytes, 0, n, "UTF-8").trim();
        } finally {
            in.close();
        }
    }

    private static void rename(File from, File to) throws IOException {
        if (!from.renameTo(to)) {
            throw new IOException("cannot move " + from + " to " + to);
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
