package android.content;

import android.net.Uri;
import java.io.FileNotFoundException;
import java.io.InputStream;

/** Stand-in for android.content.ContentResolver (API 35). */
public abstract class ContentResolver {
    /** Returns null if the provider crashed; throws if the URI cannot be opened. */
    public final InputStream openInputStream(Uri uri) throws FileNotFoundException {
        throw new UnsupportedOperationException("stand-in");
    }
}
