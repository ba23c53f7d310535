package androidx.core.view;

import androidx.core.graphics.Insets;

/** Stand-in for androidx.core.view.WindowInsetsCompat (core 1.13.1). */
public class WindowInsetsCompat {
    public static final WindowInsetsCompat CONSUMED = new WindowInsetsCompat();

    private WindowInsetsCompat() {}

    /** Stand-in for WindowInsetsCompat.Type: masks of inset types. */
    public static final class Type {
        private Type() {}

        public static int systemBars() {
            throw new UnsupportedOperationException("stand-in");
        }

        public static int displayCutout() {
            throw new UnsupportedOperationException("stand-in");
        }
    }

    public Insets getInsets(int typeMask) {
        throw new UnsupportedOperationException("stand-in");
    }
}
