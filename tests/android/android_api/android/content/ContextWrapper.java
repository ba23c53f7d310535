package android.content;

import android.content.res.AssetManager;
import android.content.res.Resources;
import java.io.File;

/** Stand-in for android.content.ContextWrapper (API 35); real ones delegate to the base. */
public class ContextWrapper extends Context {
    public ContextWrapper(Context base) {}

    @Override
    public Context getApplicationContext() {
        throw new UnsupportedOperationException("stand-in");
    }

    @Override
    public File getFilesDir() {
        throw new UnsupportedOperationException("stand-in");
    }

    @Override
    public File getExternalFilesDir(String type) {
        throw new UnsupportedOperationException("stand-in");
    }

    @Override
    public File getCacheDir() {
        throw new UnsupportedOperationException("stand-in");
    }

    @Override
    public AssetManager getAssets() {
        throw new UnsupportedOperationException("stand-in");
    }

    @Override
    public Resources getResources() {
        throw new UnsupportedOperationException("stand-in");
    }

    @Override
    public ContentResolver getContentResolver() {
        throw new UnsupportedOperationException("stand-in");
    }

    @Override
    public String getPackageName() {
        throw new UnsupportedOperationException("stand-in");
    }
}
