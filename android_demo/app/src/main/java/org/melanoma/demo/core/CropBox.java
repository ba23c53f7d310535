package org.melanoma.demo.core;

/**
 * A square crop: rows top..top+side-1 and columns left..left+side-1 of the (oriented) image, in
 * pixels. The default is {@link #centerSquare}; the app lets the user move and scale it.
 */
public final class CropBox {
    public final int top;
    public final int left;
    public final int side;

    public CropBox(int top, int left, int side) {
        this.top = top;
        this.left = left;
        this.side = side;
    }

    /**
     * The centred square, exactly melanoma.preprocess.square_crop_box: side = min(H, W), top =
     * (H - side) // 2, left = (W - side) // 2. Note the (height, width) argument order, as in
     * Python.
     */
    public static CropBox centerSquare(int height, int width) {
        int side = Math.min(height, width);
        // Both differences are >= 0, so Java's truncating division equals Python's floor division.
        return new CropBox((height - side) / 2, (width - side) / 2, side);
    }

    /** True when the box lies inside a width x height image and is not empty. */
    public boolean fitsIn(int width, int height) {
        return side > 0 && top >= 0 && left >= 0
                && (long) top + side <= height && (long) left + side <= width;
    }

    @Override
    public boolean equals(Object other) {
        if (!(other instanceof CropBox)) {
            return false;
        }
        CropBox box = (CropBox) other;
        return top == box.top && left == box.left && side == box.side;
    }

    @Override
    public int hashCode() {
        return (top * 31 + left) * 31 + side;
    }

    @Override
    public String toString() {
        return "CropBox(top=" + top + ", left=" + left + ", side=" + side + ")";
    }
}
