package org.melanoma.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.util.Random;
import org.junit.Test;

public class PreprocessorTest {
    private static final double[] MEAN = {0.742, 0.532, 0.556};
    private static final double[] STD = {0.152, 0.181, 0.197};
    private final Preprocessor pre = new Preprocessor(32, 32, MEAN, STD);

    @Test
    public void centredBoxIsPythonsSquareCropBox() {
        // (height, width) -> (top, left, side), values from melanoma.preprocess.square_crop_box
        assertEquals(new CropBox(0, 80, 480), CropBox.centerSquare(480, 640));
        assertEquals(new CropBox(80, 0, 480), CropBox.centerSquare(641, 480));
        assertEquals(new CropBox(0, 6, 33), CropBox.centerSquare(33, 45));
        assertEquals(new CropBox(500, 0, 3000), CropBox.centerSquare(4000, 3000));
        assertEquals(new CropBox(0, 0, 32), CropBox.centerSquare(32, 32));
    }

    @Test
    public void areaWeightsAreFractionsThatSumToOne() {
        double third = 1.0 / 3.0;
        double[][] w = Preprocessor.areaWeights(96, 32);
        assertArrayEquals(new double[] {0, 0, 0, third, third, third, 0}, slice(w[1], 0, 7), 0);
        for (int src : new int[] {32, 33, 45, 97, 151, 1000, 1777, 3000}) {
            double[][] weights = Preprocessor.areaWeights(src, 32);
            for (int i = 0; i < 32; i++) {
                double sum = 0;
                for (double v : weights[i]) {
                    sum += v;
                }
                assertEquals("src " + src + " row " + i, 1.0, sum, 1e-12);
            }
        }
        double[][] identity = Preprocessor.areaWeights(32, 32);
        for (int i = 0; i < 32; i++) {
            assertEquals(1.0, identity[i][i], 0.0);
        }
    }

    @Test
    public void separableResizeEqualsTheTwoDimensionalAreaMean() throws Exception {
        int width = 70;
        int height = 53;
        int[] argb = randomImage(width, height, 7);
        CropBox box = new CropBox(5, 11, 47);
        double[] got = pre.cropAndResize(new ArgbImage(argb, width, height), box);
        double scale = 47.0 / 32.0;
        for (int i = 0; i < 32; i++) {
            for (int j = 0; j < 32; j++) {
                double[] want = new double[3];
                for (int y = 0; y < 47; y++) {
                    for (int x = 0; x < 47; x++) {
                        double area = overlap(i * scale, (i + 1) * scale, y)
                                * overlap(j * scale, (j + 1) * scale, x) / (scale * scale);
                        int p = argb[(box.top + y) * width + box.left + x];
                        want[0] += area * ((p >> 16) & 0xff);
                        want[1] += area * ((p >> 8) & 0xff);
                        want[2] += area * (p & 0xff);
                    }
                }
                assertArrayEquals(want, slice(got, (i * 32 + j) * 3, 3), 1e-9);
            }
        }
    }

    @Test
    public void uniformImageNormalizesToTheFloat32Formula() throws Exception {
        int[] argb = new int[640 * 480];
        java.util.Arrays.fill(argb, 0xff_c8_64_0a); // RGB 200, 100, 10
        float[] input = pre.toInput(new ArgbImage(argb, 640, 480));
        assertEquals(3 * 32 * 32, input.length);
        int[] rgb = {200, 100, 10};
        for (int c = 0; c < 3; c++) {
            float want = (rgb[c] / 255.0f - (float) MEAN[c]) / (float) STD[c];
            for (int p = 0; p < 32 * 32; p++) {
                assertEquals(want, input[c * 1024 + p], 1e-6f);
            }
        }
    }

    @Test
    public void transparentPixelsAreCompositedOntoWhite() throws Exception {
        int[] hidden = randomImage(40, 60, 3);
        int[] white = new int[hidden.length];
        int[] half = new int[hidden.length];
        int[] halfOnWhite = new int[hidden.length];
        for (int i = 0; i < hidden.length; i++) {
            white[i] = 0xffffffff;
            half[i] = 0x80000000 | (hidden[i] & 0x00ffffff); // alpha 128
            int out = 0xff000000;
            for (int shift = 0; shift <= 16; shift += 8) {
                int v = (hidden[i] >> shift) & 0xff;
                // v * 128/255 + 255 * 127/255, rounded: Pillow's result for alpha 128
                out |= (int) Math.floor(v * 128 / 255.0 + 127 + 0.5) << shift;
            }
            halfOnWhite[i] = out;
            hidden[i] &= 0x00ffffff; // alpha 0: the colour must not matter
        }
        assertArrayEquals(pre.toInput(new ArgbImage(white, 40, 60)),
                pre.toInput(new ArgbImage(hidden, 40, 60)), 0f);
        assertArrayEquals(pre.toInput(new ArgbImage(halfOnWhite, 40, 60)),
                pre.toInput(new ArgbImage(half, 40, 60)), 0f);
    }

    @Test
    public void compositingKeepsOpaqueValuesAndRoundsToNearest() {
        for (int v = 0; v < 256; v++) {
            assertEquals(v, Preprocessor.compositeOnWhite(v, 255));
            assertEquals(255, Preprocessor.compositeOnWhite(v, 0));
        }
        assertEquals(127, Preprocessor.compositeOnWhite(0, 128)); // 255 - 128 exactly
        assertEquals(128, Preprocessor.compositeOnWhite(1, 128)); // 127.502 rounds up
        assertEquals(254, Preprocessor.compositeOnWhite(0, 1));
    }

    @Test
    public void readsOnlyInsideTheCropBox() throws Exception {
        final CropBox box = new CropBox(100, 37, 64);
        RowSource guarded = new RowSource() {
            @Override public int width() { return 300; }
            @Override public int height() { return 200; }
            @Override public void readRow(int y, int x, int count, int[] dst) {
                if (y < box.top || y >= box.top + box.side || x != box.left || count != box.side) {
                    throw new AssertionError("read outside the box: y=" + y + " x=" + x);
                }
                java.util.Arrays.fill(dst, 0, count, 0xff808080);
            }
        };
        pre.toInput(guarded, box);
    }

    @Test
    public void tooSmallCropsAreRefusedWithPythonsMessage() {
        expectTooSmall(new ArgbImage(new int[31 * 100], 100, 31), null, 31);
        expectTooSmall(new ArgbImage(new int[20 * 30], 20, 30), null, 20);
        expectTooSmall(new ArgbImage(new int[64 * 64], 64, 64), new CropBox(0, 0, 31), 31);
    }

    @Test
    public void theManifestsMinSideIsTheLimitNotTheSize() throws Exception {
        // A manifest may ask for more pixels than the model input has (min_side 48, size 32).
        Preprocessor strict = new Preprocessor(32, 48, MEAN, STD);
        try {
            strict.toInput(new ArgbImage(new int[40 * 60], 60, 40));
            fail("accepted a 40px crop below min_side 48");
        } catch (ImageTooSmallException e) {
            assertEquals("image is too small: 40px square crop, need at least 48px",
                    e.getMessage());
        }
        assertEquals(3 * 32 * 32, strict.toInput(new ArgbImage(new int[48 * 48], 48, 48)).length);
    }

    @Test
    public void boxesOutsideTheImageAreProgrammingErrors() throws Exception {
        ArgbImage image = new ArgbImage(new int[64 * 48], 64, 48);
        for (CropBox box : new CropBox[] {
            new CropBox(17, 0, 32), new CropBox(0, 33, 32), new CropBox(-1, 0, 32)}) {
            try {
                pre.toInput(image, box);
                fail("accepted " + box);
            } catch (IllegalArgumentException expected) {
                // the UI clamps boxes, so this never reaches a user
            }
        }
    }

    private void expectTooSmall(ArgbImage image, CropBox box, int side) {
        try {
            if (box == null) {
                pre.toInput(image);
            } else {
                pre.toInput(image, box);
            }
            fail("accepted a " + side + "px crop");
        } catch (ImageTooSmallException e) {
            assertEquals("image is too small: " + side + "px square crop, need at least 32px",
                    e.getMessage());
            assertEquals(side, e.side());
        }
    }

    private static double overlap(double start, double end, int k) {
        return Math.max(0.0, Math.min(end, k + 1) - Math.max(start, k));
    }

    private static int[] randomImage(int width, int height, long seed) {
        Random random = new Random(seed);
        int[] argb = new int[width * height];
        for (int i = 0; i < argb.length; i++) {
            argb[i] = 0xff000000 | random.nextInt(1 << 24);
        }
        return argb;
    }

    private static double[] slice(double[] values, int from, int count) {
        return java.util.Arrays.copyOfRange(values, from, from + count);
    }
}
