package android.graphics;

/** Stand-in for android.graphics.RectF (API 35). */
public class RectF {
    public RectF() {}

    public void set(float left, float top, float right, float bottom) {}
}
