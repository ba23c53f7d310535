package androidx.core.content;

import android.content.Context;
import android.net.Uri;
import java.io.File;

/**
 * Stand-in for androidx.core.content.FileProvider (core 1.13.1): its static call only (the real
 * class is a ContentProvider, declared in the manifest).
 */
public class FileProvider {
    /** Throws IllegalArgumentException for a file outside the configured paths. */
    public static Uri getUriForFile(Context context, String authority, File file) {
        throw new UnsupportedOperationException("stand-in");
    }
}
