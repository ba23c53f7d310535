package android.content;

import android.content.res.AssetManager;
import android.content.res.Resources;
import java.io.File;

/** Stand-in for android.content.Context (API 35): the calls ModelStore and MainActivity make. */
public abstract class Context {
    public abstract Context getApplicationContext();

    public abstract File getFilesDir();

    public abstract File getExternalFilesDir(String type);

    public abstract File getCacheDir();

    public abstract AssetManager getAssets();

    public abstract Resources getResources();

    public abstract ContentResolver getContentResolver();

    public abstract String getPackageName();

    public final String getString(int resId) {
        throw new UnsupportedOperationException("stand-in");
    }
}
