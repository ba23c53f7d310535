package androidx.core.os;

import android.os.Bundle;

/** Stand-in for androidx.core.os.BundleCompat (core 1.13.1; added in 1.10.0). */
public final class BundleCompat {
    private BundleCompat() {}

    public static <T> T getParcelable(Bundle in, String key, Class<T> clazz) {
        throw new UnsupportedOperationException("stand-in");
    }
}
