package android.graphics;

/** Stand-in for android.graphics.Canvas (API 35). */
public class Canvas {
    public void drawBitmap(Bitmap bitmap, Rect src, RectF dst, Paint paint) {}

    public void drawRect(float left, float top, float right, float bottom, Paint paint) {}
}
