package androidx.core.view;

import android.view.View;
import android.view.Window;

/** Stand-in for androidx.core.view.WindowCompat (core 1.13.1). */
public final class WindowCompat {
    private WindowCompat() {}

    public static WindowInsetsControllerCompat getInsetsController(Window window, View view) {
        throw new UnsupportedOperationException("stand-in");
    }
}
