package android.graphics;

/** Stand-in for android.graphics.Paint (API 35). */
public class Paint {
    public static final int ANTI_ALIAS_FLAG = 0x01;
    public static final int FILTER_BITMAP_FLAG = 0x02;

    /** Stand-in for Paint.Style. */
    public enum Style {
        FILL,
        STROKE,
        FILL_AND_STROKE
    }

    public Paint() {}

    public Paint(int flags) {}

    public void setColor(int color) {}

    public void setStyle(Style style) {}

    public void setStrokeWidth(float width) {}
}
