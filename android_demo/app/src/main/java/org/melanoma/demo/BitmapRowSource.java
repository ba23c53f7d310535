package org.melanoma.demo;

import android.graphics.Bitmap;
import org.melanoma.demo.core.RowSource;

/**
 * A decoded photo as the preprocessing's {@link RowSource}: rows are read straight from the
 * bitmap as ARGB ints, so a large photo is never copied whole into an int[].
 *
 * <p>getPixels returns unpremultiplied colour, but BitmapFactory stores ARGB_8888 premultiplied,
 * so a semi-transparent pixel may come back a rounding step off the file's value; opaque and
 * fully transparent pixels are exact.
 */
final class BitmapRowSource implements RowSource {
    private final Bitmap bitmap;

    BitmapRowSource(Bitmap bitmap) {
        this.bitmap = bitmap;
    }

    @Override
    public int width() {
        return bitmap.getWidth();
    }

    @Override
    public int height() {
        return bitmap.getHeight();
    }

    @Override
    public void readRow(int y, int x, int count, int[] dst) {
        bitmap.getPixels(dst, 0, count, x, y, count, 1);
    }
}
