package android.content;

import android.content.res.AssetManager;
import java.io.File;

/** Stand-in for android.content.Context: the calls ModelStore makes. */
public abstract class Context {
    public abstract Context getApplicationContext();

    public abstract File getFilesDir();

    public abstract File getExternalFilesDir(String type);

    public abstract AssetManager getAssets();
}
