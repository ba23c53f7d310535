package android.util;

/** Stand-in for android.util.DisplayMetrics (API 35). */
public class DisplayMetrics {
    public float density;
}
