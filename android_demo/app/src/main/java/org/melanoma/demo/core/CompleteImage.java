package org.melanoma.demo.core;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Refuses a JPEG or PNG that ends before its image data does, as melanoma.images.decode_rgb
 * (Pillow) does: "truncated or corrupt image".
 *
 * <p>BitmapFactory decodes what it can of a cut-off file (a photo still downloading, a broken
 * copy) and fills the missing rows, and does not say so; the app would score that made-up image.
 * This reads the file's structure, without decoding pixels, and stops where Pillow would
 * ({@link JpegStructure}, {@link PngStructure}). CompleteImageParityTest checks the verdicts
 * against Python's on files cut at thousands of lengths.
 */
public final class CompleteImage {
    private CompleteImage() {}

    /** Python's words for what this finds, after the file name. */
    public static final class IncompleteImageException extends IOException {
        private static final long serialVersionUID = 1L;

        IncompleteImageException(String why) {
            super("truncated or corrupt image (" + why + ")");
        }
    }

    /** Reads {@code in} to the end of its image data; throws if the data is cut off. */
    public static void require(InputStream in) throws IOException {
        ImageBytes bytes = new ImageBytes(new BufferedInputStream(in, 1 << 16));
        int first = bytes.read();
        int second = bytes.read();
        if (first == 0xff && second == 0xd8) {
            JpegStructure.requireWhole(bytes);
        } else if (first == 0x89 && second == 'P') {
            PngStructure.requireWhole(bytes);
        } else {
            throw new IncompleteImageException("neither a JPEG nor a PNG");
        }
    }
}
