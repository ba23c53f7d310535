package androidx.core.view;

import android.view.View;

/** Stand-in for androidx.core.view.OnApplyWindowInsetsListener (core 1.13.1). */
public interface OnApplyWindowInsetsListener {
    WindowInsetsCompat onApplyWindowInsets(View v, WindowInsetsCompat insets);
}
