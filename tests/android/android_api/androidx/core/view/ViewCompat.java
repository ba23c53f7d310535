package androidx.core.view;

import android.view.View;

/** Stand-in for androidx.core.view.ViewCompat (core 1.13.1). */
public class ViewCompat {
    protected ViewCompat() {}

    public static void setOnApplyWindowInsetsListener(
            View v, OnApplyWindowInsetsListener listener) {}
}
