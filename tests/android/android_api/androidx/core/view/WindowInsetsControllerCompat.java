package androidx.core.view;

/** Stand-in for androidx.core.view.WindowInsetsControllerCompat (core 1.13.1). */
public final class WindowInsetsControllerCompat {
    private WindowInsetsControllerCompat() {}

    public void setAppearanceLightStatusBars(boolean isLight) {}

    public void setAppearanceLightNavigationBars(boolean isLight) {}
}
