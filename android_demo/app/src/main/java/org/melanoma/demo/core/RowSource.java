package org.melanoma.demo.core;

/**
 * An image read one row segment at a time as packed ARGB ints (0xAARRGGBB), with unpremultiplied
 * colour, as android.graphics.Bitmap.getPixels returns them. {@link Preprocessor} composites
 * pixels that are not opaque onto white, like the Python side.
 *
 * <p>{@link ArgbImage} wraps an int[] for tests and the desktop; the app wraps an
 * android.graphics.Bitmap, so a 12-megapixel photo is never copied whole into an int[].
 */
public interface RowSource {
    int width();

    int height();

    /** Copy pixels (x..x+count-1, y) into dst[0..count-1]. */
    void readRow(int y, int x, int count, int[] dst);
}
