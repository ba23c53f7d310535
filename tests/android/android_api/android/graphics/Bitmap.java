package android.graphics;

import android.os.Parcelable;

/** Stand-in for android.graphics.Bitmap (API 35). */
public final class Bitmap implements Parcelable {
    /** Stand-in for Bitmap.Config: the one value the app asks for. */
    public enum Config {
        ARGB_8888
    }

    private Bitmap() {}

    public static Bitmap createBitmap(
            Bitmap source, int x, int y, int width, int height, Matrix m, boolean filter) {
        throw new UnsupportedOperationException("stand-in");
    }

    public static Bitmap createScaledBitmap(
            Bitmap src, int dstWidth, int dstHeight, boolean filter) {
        throw new UnsupportedOperationException("stand-in");
    }

    public final int getWidth() {
        throw new UnsupportedOperationException("stand-in");
    }

    public final int getHeight() {
        throw new UnsupportedOperationException("stand-in");
    }

    public void getPixels(int[] pixels, int offset, int stride, int x, int y, int width,
            int height) {
        throw new UnsupportedOperationException("stand-in");
    }

    public void recycle() {}
}
