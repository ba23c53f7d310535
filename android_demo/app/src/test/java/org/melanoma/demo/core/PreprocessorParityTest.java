package org.melanoma.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.Test;

/**
 * The parity test: the app's {@link Preprocessor} on images Python wrote as lossless PNG must
 * give melanoma.preprocess's tensors to a max abs difference of 1e-5, on every case in
 * cases.tsv, including images with transparency. Too-small cases must fail with Python's own error
 * message. The compositing onto white must equal Pillow's on every (value, alpha) pair, exactly.
 */
public class PreprocessorParityTest {
    static final double TOLERANCE = 1e-5;
    static final String HEADER = "name\timage\twidth\theight\tcrop\ttop\tleft\tside\texpected";
    static final String ERROR = "error: ";

    @Test
    public void javaPreprocessingMatchesPython() throws Exception {
        File dir = Golden.dir();
        Manifest manifest = ModelFiles.open(new File(dir, "model")).manifest;
        Preprocessor pre = Preprocessor.fromManifest(manifest);
        List<String> failures = new ArrayList<String>();
        int matched = 0;
        int large = 0;
        int nonSquare = 0;
        int refused = 0;
        int transparent = 0; // cases with a fully transparent pixel
        int translucent = 0; // cases with a pixel neither opaque nor fully transparent
        for (String[] row : Golden.tsv(new File(dir, "cases.tsv"), HEADER)) {
            String name = row[0];
            int width = Integer.parseInt(row[2]);
            int height = Integer.parseInt(row[3]);
            CropBox box = new CropBox(
                    Integer.parseInt(row[5]), Integer.parseInt(row[6]), Integer.parseInt(row[7]));
            ArgbImage image = readPng(new File(dir, row[1]), width, height);
            boolean centered = row[4].equals("center");
            if (centered) {
                // Python's square_crop_box result, written next to the case.
                assertEquals(name + ": centred box", box, CropBox.centerSquare(height, width));
            } else {
                assertEquals(name + ": crop column", "box", row[4]);
            }
            String expected = row[8];
            if (expected.startsWith(ERROR)) {
                String problem = expectTooSmall(pre, image, centered ? null : box,
                        expected.substring(ERROR.length()));
                if (problem != null) {
                    failures.add(name + ": " + problem);
                }
                refused++;
                continue;
            }
            float[] want = Golden.floats(new File(dir, expected));
            float[] got = centered ? pre.toInput(image) : pre.toInput(image, box);
            double diff = maxAbsDiff(want, got);
            System.out.printf(Locale.ROOT, "parity %-28s %5dx%-5d crop %-22s max|diff| %.2e%n",
                    name, width, height, box.side + "px@(" + box.top + "," + box.left + ")", diff);
            if (!(diff <= TOLERANCE)) {
                failures.add(String.format(Locale.ROOT, "%s: max abs diff %.3g > %.0e",
                        name, diff, TOLERANCE));
            }
            matched++;
            int[] alphas = alphaCounts(image);
            transparent += alphas[0] > 0 ? 1 : 0;
            translucent += alphas[1] > 0 ? 1 : 0;
            if (box.side >= 1000) {
                large++;
            }
            if (width != height) {
                nonSquare++;
            }
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " case(s) differ from Python:\n  " + join(failures));
        }
        assertTrue("need parity on >= 10 images, got " + matched, matched >= 10);
        assertTrue("need a large (>= 1000 px crop) image", large >= 1);
        assertTrue("need landscape and portrait images", nonSquare >= 2);
        assertTrue("need a too-small case", refused >= 1);
        assertTrue("need >= 2 images with transparent pixels", transparent >= 2);
        assertTrue("need >= 2 images with semi-transparent pixels", translucent >= 2);
    }

    /**
     * alpha_all_pairs.png holds every (value, alpha) pair in each channel; Python wrote how
     * Pillow composites it onto white (alpha_all_pairs_on_white.rgb, 256 x 256 x 3 bytes). All
     * 65536 pairs must match bit for bit, per channel.
     */
    @Test
    public void compositingOntoWhiteMatchesPillowOnEveryPair() throws Exception {
        File dir = Golden.dir();
        ArgbImage image = readPng(new File(dir, "alpha_all_pairs.png"), 256, 256);
        byte[] want = Files.readAllBytes(new File(dir, "alpha_all_pairs_on_white.rgb").toPath());
        assertEquals("alpha_all_pairs_on_white.rgb size", 256 * 256 * 3, want.length);
        int[] row = new int[256];
        List<String> failures = new ArrayList<String>();
        boolean[][] seen = new boolean[256][256]; // [alpha][value]: every pair is covered
        for (int y = 0; y < 256; y++) {
            image.readRow(y, 0, 256, row);
            for (int x = 0; x < 256; x++) {
                int a = row[x] >>> 24;
                for (int c = 0; c < 3; c++) {
                    int v = (row[x] >> (16 - 8 * c)) & 0xff;
                    int pillow = want[(y * 256 + x) * 3 + c] & 0xff;
                    int java = Preprocessor.compositeOnWhite(v, a);
                    seen[a][v] = true;
                    if (java != pillow && failures.size() < 20) {
                        failures.add("value " + v + ", alpha " + a + ": Java " + java
                                + ", Pillow " + pillow);
                    }
                }
            }
        }
        if (!failures.isEmpty()) {
            fail("compositing onto white differs from Pillow:\n  " + join(failures));
        }
        for (int a = 0; a < 256; a++) {
            for (int v = 0; v < 256; v++) {
                assertTrue("pair (value " + v + ", alpha " + a + ") not covered", seen[a][v]);
            }
        }
    }

    /** {pixels with alpha 0, pixels with alpha 1..254}. */
    private static int[] alphaCounts(ArgbImage image) {
        int[] counts = new int[2];
        int[] row = new int[image.width()];
        for (int y = 0; y < image.height(); y++) {
            image.readRow(y, 0, image.width(), row);
            for (int p : row) {
                int a = p >>> 24;
                counts[0] += a == 0 ? 1 : 0;
                counts[1] += a > 0 && a < 255 ? 1 : 0;
            }
        }
        return counts;
    }

    /** Null if pre refuses the image with exactly Python's message, else what went wrong. */
    private static String expectTooSmall(Preprocessor pre, ArgbImage image, CropBox box,
            String pythonMessage) {
        try {
            if (box == null) {
                pre.toInput(image);
            } else {
                pre.toInput(image, box);
            }
            return "Python refused it (" + pythonMessage + ") but Java accepted it";
        } catch (ImageTooSmallException e) {
            return pythonMessage.equals(e.getMessage())
                    ? null
                    : "message '" + e.getMessage() + "' != Python's '" + pythonMessage + "'";
        }
    }

    /** Decode a lossless PNG (exact, unlike JPEG, whose decoders differ by +-1). */
    static ArgbImage readPng(File file, int width, int height) throws IOException {
        ArgbImage image = DesktopPng.read(file);
        assertEquals(file + ": width", width, image.width());
        assertEquals(file + ": height", height, image.height());
        return image;
    }

    static double maxAbsDiff(float[] want, float[] got) {
        if (want.length != got.length) {
            return Double.POSITIVE_INFINITY;
        }
        double max = 0;
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) want[i] - got[i]);
            if (!(d <= max)) { // NaN counts as a mismatch
                max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
            }
        }
        return max;
    }

    private static String join(List<String> lines) {
        StringBuilder out = new StringBuilder();
        for (String line : lines) {
            out.append(out.length() == 0 ? "" : "\n  ").append(line);
        }
        return out.toString();
    }
}
