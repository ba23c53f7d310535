package android.view;

import android.content.Context;
import android.content.ContextWrapper;

/** Stand-in for android.view.ContextThemeWrapper (API 35): Activity's superclass. */
public class ContextThemeWrapper extends ContextWrapper {
    public ContextThemeWrapper() {
        super(null);
    }

    public ContextThemeWrapper(Context base, int themeResId) {
        super(base);
    }
}
