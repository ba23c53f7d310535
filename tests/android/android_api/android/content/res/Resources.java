package android.content.res;

import android.util.DisplayMetrics;

/** Stand-in for android.content.res.Resources (API 35). */
public class Resources {
    public DisplayMetrics getDisplayMetrics() {
        throw new UnsupportedOperationException("stand-in");
    }
}
