package org.melanoma.demo.core;

/** An int[] of packed ARGB pixels, row-major, {@code width * height} long. */
public final class ArgbImage implements RowSource {
    private final int[] pixels;
    private final int width;
    private final int height;

    public ArgbImage(int[] pixels, int width, int height) {
        if (width <= 0 || height <= 0 || (long) width * height != pixels.length) {
            throw new IllegalArgumentException(
                    "expected " + width + "x" + height + " pixels, got " + pixels.length);
        }
        this.pixels = pixels;
        this.width = width;
        this.height = height;
    }

    @Override
    public int width() {
        return width;
    }

    @Override
    public int height() {
        return height;
    }

    @Override
    public void readRow(int y, int x, int count, int[] dst) {
        System.arraycopy(pixels, y * width + x, dst, 0, count);
    }
}
