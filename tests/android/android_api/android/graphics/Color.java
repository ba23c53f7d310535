package android.graphics;

/** Stand-in for android.graphics.Color (API 35). */
public class Color {
    public static final int WHITE = 0xFFFFFFFF;
}
