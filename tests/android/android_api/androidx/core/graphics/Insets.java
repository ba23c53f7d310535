package androidx.core.graphics;

/** Stand-in for androidx.core.graphics.Insets (core 1.13.1). */
public final class Insets {
    public final int left;
    public final int top;
    public final int right;
    public final int bottom;

    private Insets(int left, int top, int right, int bottom) {
        this.left = left;
        this.top = top;
        this.right = right;
        this.bottom = bottom;
    }
}
