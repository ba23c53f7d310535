package org.melanoma.demo.core;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Refuses a JPEG or PNG that ends before its image data does, as melanoma.images.decode_rgb
 * (Pillow) does: "truncated or corrupt image".
 *
 * <p>BitmapFactory decodes what it can of a cut-off file (a photo still downloading, a broken
 * copy) and fills the missing rows, and does not say so; the app would score that made-up image.
 * This reads the file's structure, without decoding pixels, and stops where Pillow would:
 *
 * <ul>
 *   <li>JPEG: the markers up to EOI, walking each scan's entropy-coded data the way libjpeg finds
 *       the marker that ends it. Bytes after EOI are ignored (phones append trailers there).
 *   <li>PNG: the IDAT data is inflated one row at a time, as Pillow's decoder does, until every
 *       row the header promises is there (zlib's checksum after the last row is not needed, as it
 *       is not for Pillow). After that, a chunk whose header is whole must be whole, up to IEND.
 * </ul>
 *
 * Corrupt data inside a JPEG scan is not looked for (libjpeg only warns); a PNG whose compressed
 * data does not inflate is refused, as Pillow refuses it. CompleteImageParityTest checks the
 * verdicts against Python's on files cut at thousands of lengths.
 */
public final class CompleteImage {
    private static final byte[] PNG_SIGNATURE = {
        (byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'
    };

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
        Bytes bytes = new Bytes(new BufferedInputStream(in, 1 << 16));
        int first = bytes.read();
        int second = bytes.read();
        if (first == 0xff && second == 0xd8) {
            requireJpeg(bytes);
        } else if (first == (PNG_SIGNATURE[0] & 0xff) && second == 'P') {
            for (int i = 2; i < PNG_SIGNATURE.length; i++) {
                if (bytes.read() != PNG_SIGNATURE[i]) {
                    throw new IncompleteImageException("not a whole PNG signature");
                }
            }
            requirePng(bytes);
        } else {
            throw new IncompleteImageException("neither a JPEG nor a PNG");
        }
    }

    // ---- JPEG ------------------------------------------------------------------------------

    private static void requireJpeg(Bytes in) throws IOException {
        int marker = nextMarker(in);
        while (marker != 0xd9) { // EOI
            if (marker == 0xd8 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
                marker = nextMarker(in); // SOI, TEM, RSTn: no length, no payload
                continue;
            }
            int length = in.u16("a JPEG segment length");
            if (length < 2) {
                throw new IncompleteImageException("a JPEG segment of length " + length);
            }
            in.skip(length - 2, "a JPEG segment");
            marker = marker == 0xda ? endOfScan(in) : nextMarker(in); // SOS: entropy data
        }
    }

    /** libjpeg's next_marker: skip anything up to 0xFF, then fill bytes, then the code. */
    private static int nextMarker(Bytes in) throws IOException {
        int b;
        do {
            b = in.need("the next JPEG marker");
        } while (b != 0xff);
        do {
            b = in.need("the next JPEG marker");
        } while (b == 0xff);
        return b;
    }

    /**
     * Walks entropy-coded data to the marker that ends it: 0xFF 0x00 is a stuffed data byte and
     * RSTn markers sit between restart intervals; anything else after 0xFF is the next marker.
     */
    private static int endOfScan(Bytes in) throws IOException {
        while (true) {
            if (in.need("the JPEG scan data") != 0xff) {
                continue;
            }
            int b;
            do {
                b = in.need("the JPEG scan data");
            } while (b == 0xff);
            if (b != 0x00 && (b < 0xd0 || b > 0xd7)) {
                return b;
            }
        }
    }

    // ---- PNG -------------------------------------------------------------------------------

    private static void requirePng(Bytes in) throws IOException {
        int length = in.s32("the PNG header chunk");
        if (in.s32("the PNG header chunk") != tag("IHDR") || length != 13) {
            throw new IncompleteImageException("a PNG without its header chunk");
        }
        int width = in.s32("the PNG header chunk");
        int height = in.s32("the PNG header chunk");
        int bitDepth = in.need("the PNG header chunk");
        int colorType = in.need("the PNG header chunk");
        in.skip(2, "the PNG header chunk"); // compression and filter method: one of each exists
        int interlace = in.need("the PNG header chunk");
        in.skip(4, "the PNG header chunk"); // CRC
        Rows rows = new Rows(width, height, bitsPerPixel(bitDepth, colorType), interlace != 0);
        long leftOfImageChunk = readRows(in, rows);
        readChunksAfterRows(in, leftOfImageChunk);
    }

    private static int bitsPerPixel(int bitDepth, int colorType) throws IOException {
        switch (colorType) {
            case 0: // grey
            case 3: // palette
                return bitDepth;
            case 2: // RGB
                return 3 * bitDepth;
            case 4: // grey + alpha
                return 2 * bitDepth;
            case 6: // RGBA
                return 4 * bitDepth;
            default:
                throw new IncompleteImageException("a PNG colour type " + colorType);
        }
    }

    /**
     * Inflates IDAT chunks until every row is there; returns how much of that chunk is left.
     *
     * <p>Step for step Pillow's ZipDecode: one row at a time, and only while compressed input is
     * left over. zlib can hold back output it has already decoded (the end of a long match), and
     * Pillow asks the file for more input to get it; if the file ends there, Pillow refuses it.
     */
    private static long readRows(Bytes in, Rows rows) throws IOException {
        Inflater inflater = new Inflater();
        byte[] input = new byte[1 << 14];
        byte[] row = new byte[rows.longestRow()];
        int filled = 0;
        boolean seenImageData = false;
        try {
            while (true) {
                long length = in.u32("the PNG image data");
                if (in.s32("the PNG image data") != tag("IDAT")) {
                    if (seenImageData) {
                        throw new IncompleteImageException("the PNG image data ends early");
                    }
                    in.skip(length + 4, "a PNG chunk"); // PLTE, tRNS, iCCP, ... and CRC
                    continue;
                }
                seenImageData = true;
                long left = length;
                while (left > 0) {
                    int n = in.readUpTo(input, (int) Math.min(input.length, left));
                    if (n == 0) {
                        throw new IncompleteImageException("the PNG image data ends early");
                    }
                    left -= n;
                    inflater.setInput(input, 0, n);
                    while (inflater.getRemaining() > 0) {
                        int out = inflater.inflate(row, filled, rows.current() - filled);
                        filled += out;
                        if (filled < rows.current()) {
                            if (out == 0) { // the stream ended inside a row, or wants a dictionary
                                throw new IncompleteImageException("broken PNG data stream");
                            }
                            continue;
                        }
                        filled = 0;
                        if (!rows.next() || inflater.finished()) {
                            return left; // Pillow stops at the last row or at the stream's end
                        }
                    }
                }
                in.skip(4, "the PNG image data"); // CRC
            }
        } catch (DataFormatException e) {
            throw new IncompleteImageException("broken PNG data stream");
        } finally {
            inflater.end();
        }
    }

    /**
     * Pillow's PngImageFile.load_end: after the rows, a cut inside a chunk's 8-byte header (or a
     * header that is not a chunk name) ends the file quietly; a chunk cut inside its data does not.
     */
    private static void readChunksAfterRows(Bytes in, long leftOfImageChunk) throws IOException {
        in.skipAvailable(leftOfImageChunk);
        while (true) {
            in.skipAvailable(4); // CRC
            byte[] header = new byte[8];
            if (in.readUpTo(header, 8) < 8 || !isChunkName(header)) {
                return;
            }
            long length = ((header[0] & 0xffL) << 24) | ((header[1] & 0xff) << 16)
                    | ((header[2] & 0xff) << 8) | (header[3] & 0xff);
            if (header[4] == 'I' && header[5] == 'E' && header[6] == 'N' && header[7] == 'D') {
                return;
            }
            in.skip(length, "a PNG chunk after the image data");
        }
    }

    private static boolean isChunkName(byte[] header) {
        for (int i = 4; i < 8; i++) {
            int c = header[i] & 0xff;
            boolean word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9') || c == '_';
            if (!word) {
                return false;
            }
        }
        return true;
    }

    /** The filtered rows a PNG holds, in order: one filter byte each, per Adam7 pass if any. */
    static final class Rows {
        private static final int[][] ADAM7 = { // first column, first row, column step, row step
            {0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2},
            {0, 1, 1, 2}
        };
        private final int[] length; // per pass, with the filter byte
        private final long[] count; // per pass
        private int pass;
        private long done;

        Rows(int width, int height, int bitsPerPixel, boolean interlaced)
                throws IncompleteImageException {
            if (width <= 0 || height <= 0) {
                throw new IncompleteImageException("a PNG of " + width + "x" + height + " pixels");
            }
            int[][] passes = interlaced ? ADAM7 : new int[][] {{0, 0, 1, 1}};
            length = new int[passes.length];
            count = new long[passes.length];
            for (int i = 0; i < passes.length; i++) {
                int[] p = passes[i];
                long columns = ((long) width - p[0] + p[2] - 1) / p[2];
                long bytes = 1 + (columns * bitsPerPixel + 7) / 8;
                if (bytes > Integer.MAX_VALUE - 8) {
                    throw new IncompleteImageException("a PNG row of " + bytes + " bytes");
                }
                length[i] = (int) bytes;
                count[i] = columns > 0 ? ((long) height - p[1] + p[3] - 1) / p[3] : 0;
            }
            skipEmptyPasses();
        }

        int longestRow() {
            int longest = 0;
            for (int bytes : length) {
                longest = Math.max(longest, bytes);
            }
            return longest;
        }

        int current() {
            return length[pass];
        }

        /** Counts one row; false when it was the last. */
        boolean next() {
            done++;
            skipEmptyPasses();
            return pass < count.length;
        }

        private void skipEmptyPasses() {
            while (pass < count.length && done >= count[pass]) {
                done = 0;
                pass++;
            }
        }
    }

    private static int tag(String name) {
        return (name.charAt(0) << 24) | (name.charAt(1) << 16) | (name.charAt(2) << 8)
                | name.charAt(3);
    }

    /** A byte reader whose "need" methods throw when the file ends. */
    private static final class Bytes {
        private final InputStream in;

        Bytes(InputStream in) {
            this.in = in;
        }

        int read() throws IOException {
            return in.read();
        }

        int need(String what) throws IOException {
            int b = in.read();
            if (b < 0) {
                throw new IncompleteImageException("the file ends inside " + what);
            }
            return b;
        }

        int u16(String what) throws IOException {
            return (need(what) << 8) | need(what);
        }

        int s32(String what) throws IOException {
            return (u16(what) << 16) | u16(what);
        }

        long u32(String what) throws IOException {
            return s32(what) & 0xffffffffL;
        }

        int readUpTo(byte[] buffer, int count) throws IOException {
            int total = 0;
            while (total < count) {
                int n = in.read(buffer, total, count - total);
                if (n < 0) {
                    break;
                }
                total += n;
            }
            return total;
        }

        void skip(long count, String what) throws IOException {
            if (skipAvailable(count) < count) {
                throw new IncompleteImageException("the file ends inside " + what);
            }
        }

        long skipAvailable(long count) throws IOException {
            long done = 0;
            while (done < count) {
                long n = in.skip(count - done);
                if (n <= 0) {
                    if (in.read() < 0) {
                        break;
                    }
                    n = 1;
                }
                done += n;
            }
            return done;
        }
    }
}
