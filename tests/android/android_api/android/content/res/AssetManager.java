package android.content.res;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Stand-in for android.content.res.AssetManager, reading an APK's assets from a folder. */
public class AssetManager {
    private final File root;

    public AssetManager(File root) {
        this.root = root;
    }

    /** Like Android's: the names in a folder, an empty array if there is no such folder. */
    public String[] list(String path) throws IOException {
        String[] names = new File(root, path).list();
        return names == null ? new String[0] : names;
    }

    public InputStream open(String path) throws IOException {
        return new FileInputStream(new File(root, path));
    }
}
