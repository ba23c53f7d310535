package org.melanoma.demo.core;

/**
 * The model-input contract of melanoma/preprocess.py, step for step, in plain Java:
 *
 * <ol>
 *   <li><b>alpha</b>: each pixel is composited onto opaque white with Pillow's integer formula,
 *       bit for bit ({@link #compositeOnWhite}), as melanoma.images._to_rgb does for images with
 *       transparency; opaque pixels are unchanged.
 *   <li><b>square crop</b>: by default {@link CropBox#centerSquare}; the app may pass a box the
 *       user moved. A side below min_side is refused ({@link ImageTooSmallException}).
 *   <li><b>area resize</b> to size x size: output pixel (i, j) is the mean of the source square it
 *       covers, partially covered source pixels weighted by the covered fraction. Separable:
 *       out = R · img · Rᵀ per channel, R = {@link #areaWeights}. Computed in double, no rounding.
 *   <li><b>normalize</b>: x = (float32(v) / 255 - mean[c]) / std[c], in float32 like the torch
 *       code, with mean and std from the manifest.
 *   <li><b>layout</b>: NCHW float32, returned as a flat float[1 * 3 * size * size].
 * </ol>
 *
 * <p>Neither Pillow's nor Android's scaling filters are used: they differ from this and from each
 * other, and on a large photo that difference changes the prediction.
 */
public final class Preprocessor {
    private final int size;
    private final int minSide;
    private final float[] mean = new float[3];
    private final float[] std = new float[3];

    public Preprocessor(int size, int minSide, double[] mean, double[] std) {
        if (size < 1 || minSide < size || mean.length != 3 || std.length != 3) {
            throw new IllegalArgumentException("need size >= 1, minSide >= size, 3 means, 3 stds");
        }
        this.size = size;
        this.minSide = minSide;
        for (int c = 0; c < 3; c++) {
            // torch.tensor(mean, dtype=torch.float32): the statistics are float32 in Python too.
            this.mean[c] = (float) mean[c];
            this.std[c] = (float) std[c];
        }
    }

    /** The preprocessing a parsed (and therefore app-checked) manifest describes. */
    public static Preprocessor fromManifest(Manifest manifest) {
        Manifest.Preprocessing p = manifest.preprocessing;
        return new Preprocessor(p.size, p.minSide, p.mean(), p.std());
    }

    public int size() {
        return size;
    }

    public int minSide() {
        return minSide;
    }

    /** The full contract with the centred square: what melanoma.preprocess.image_to_input does. */
    public float[] toInput(RowSource image) throws ImageTooSmallException {
        return toInput(image, CropBox.centerSquare(image.height(), image.width()));
    }

    /** The full contract with an explicit crop box. */
    public float[] toInput(RowSource image, CropBox box) throws ImageTooSmallException {
        return normalize(cropAndResize(image, box));
    }

    /**
     * Steps 1-3, like melanoma.images._to_rgb's compositing followed by
     * melanoma.preprocess.crop_and_resize: returns (size, size, 3) row-major (HWC) doubles in
     * 0..255.
     */
    public double[] cropAndResize(RowSource image, CropBox box) throws ImageTooSmallException {
        if (box.side < minSide) {
            throw new ImageTooSmallException(box.side, minSide);
        }
        if (!box.fitsIn(image.width(), image.height())) {
            throw new IllegalArgumentException(
                    box + " does not fit in a " + image.width() + "x" + image.height() + " image");
        }
        int side = box.side;
        double[][] weights = areaWeights(side, size); // (size, side)
        int[] first = new int[size];
        int[] last = new int[size];
        supports(weights, first, last);

        // Pass 1 (rows): byRow[i][x][c] = sum_k R[i][k] * crop[k][x][c], one source row at a time.
        double[] byRow = new double[size * side * 3];
        int[] line = new int[side];
        for (int k = 0; k < side; k++) {
            image.readRow(box.top + k, box.left, side, line);
            for (int i = 0; i < size; i++) {
                if (k < first[i] || k > last[i]) {
                    continue;
                }
                double w = weights[i][k];
                int base = i * side * 3;
                for (int x = 0; x < side; x++) {
                    int p = line[x];
                    int a = p >>> 24;
                    int r = (p >> 16) & 0xff;
                    int g = (p >> 8) & 0xff;
                    int b = p & 0xff;
                    if (a != 0xff) { // the formula leaves opaque pixels as they are
                        r = compositeOnWhite(r, a);
                        g = compositeOnWhite(g, a);
                        b = compositeOnWhite(b, a);
                    }
                    int at = base + 3 * x;
                    byRow[at] += w * r;
                    byRow[at + 1] += w * g;
                    byRow[at + 2] += w * b;
                }
            }
        }

        // Pass 2 (columns): out[i][j][c] = sum_l R[j][l] * byRow[i][l][c].
        double[] out = new double[size * size * 3];
        for (int i = 0; i < size; i++) {
            for (int j = 0; j < size; j++) {
                double r = 0;
                double g = 0;
                double b = 0;
                for (int l = first[j]; l <= last[j]; l++) {
                    double w = weights[j][l];
                    int at = (i * side + l) * 3;
                    r += w * byRow[at];
                    g += w * byRow[at + 1];
                    b += w * byRow[at + 2];
                }
                int o = (i * size + j) * 3;
                out[o] = r;
                out[o + 1] = g;
                out[o + 2] = b;
            }
        }
        return out;
    }

    /**
     * One channel value v of a pixel with alpha a (unpremultiplied, 0..255) composited onto opaque
     * white, as Pillow's Image.alpha_composite computes it. With an opaque white destination
     * Pillow's fixed-point code (libImaging/AlphaComposite.c) reduces to v * a / 255 + 255 - a
     * rounded to nearest (a multiple of 1/255 is never a tie), which this integer form computes
     * exactly; the JVM tests compare all 256 x 256 (v, a) pairs with Pillow's output. a = 0 gives
     * 255 whatever v is, so colours hidden under transparency do not matter.
     */
    static int compositeOnWhite(int v, int a) {
        return (v * a + 255 * (255 - a) + 127) / 255;
    }

    /**
     * Steps 4-5, like melanoma.preprocess.normalize: (size, size, 3) values in 0..255 to a flat
     * NCHW float32 array. The arithmetic is float32, as in torch.
     */
    public float[] normalize(double[] hwc) {
        int plane = size * size;
        if (hwc.length != plane * 3) {
            throw new IllegalArgumentException("expected " + plane * 3 + " values");
        }
        float[] nchw = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) {
                float v = (float) hwc[p * 3 + c]; // images.to(torch.float32)
                nchw[c * plane + p] = (v / 255.0f - mean[c]) / std[c];
            }
        }
        return nchw;
    }

    /**
     * R (dst, src): R[i][k] is the fraction of output cell i covered by source pixel k, computed
     * exactly as melanoma.preprocess.area_weights (same operations, same order).
     */
    public static double[][] areaWeights(int src, int dst) {
        double scale = (double) src / dst;
        double[][] weights = new double[dst][src];
        for (int i = 0; i < dst; i++) {
            double start = i * scale;
            double end = (i + 1) * scale;
            int stop = Math.min((int) Math.ceil(end), src);
            for (int k = (int) Math.floor(start); k < stop; k++) {
                double overlap = Math.min(end, k + 1) - Math.max(start, (double) k);
                if (overlap > 0) {
                    weights[i][k] = overlap / scale;
                }
            }
        }
        return weights;
    }

    /** first[i]..last[i]: the source pixels with a non-zero weight for output i. */
    private static void supports(double[][] weights, int[] first, int[] last) {
        for (int i = 0; i < weights.length; i++) {
            first[i] = Integer.MAX_VALUE;
            last[i] = -1;
            for (int k = 0; k < weights[i].length; k++) {
                if (weights[i][k] != 0) {
                    first[i] = Math.min(first[i], k);
                    last[i] = k;
                }
            }
        }
    }
}
