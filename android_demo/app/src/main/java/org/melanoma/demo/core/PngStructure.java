package org.melanoma.demo.core;

import java.io.IOException;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.melanoma.demo.core.CompleteImage.IncompleteImageException;

/**
 * A PNG read as Pillow reads it (PngImagePlugin and its ZipDecode): the chunks before the image
 * data with their checksums, then the compressed rows, then what Pillow's load_end reads after.
 *
 * <p>Not looked at: the contents of metadata chunks (a text chunk's compression method, say).
 */
final class PngStructure {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final int IHDR = tag("IHDR");
    private static final int IDAT = tag("IDAT");
    private static final int IEND = tag("IEND");
    private static final int ACTL = tag("acTL");
    private static final int FCTL = tag("fcTL");

    private PngStructure() {}

    /** Reads from just after the first two bytes of the signature to the end of the image. */
    static void requireWhole(ImageBytes in) throws IOException {
        for (int i = 2; i < SIGNATURE.length; i++) {
            if (in.read() != (SIGNATURE[i] & 0xff)) {
                throw new IncompleteImageException("not a whole PNG signature");
            }
        }
        if (in.u32("the PNG header chunk") != 13 || in.s32("the PNG header chunk") != IHDR) {
            throw new IncompleteImageException("a PNG without its header chunk");
        }
        byte[] header = checkedChunk(in, IHDR, 13);
        Rows rows = Rows.of(header);
        boolean animated = false;
        long length;
        while (true) { // Pillow's _open: every chunk before the image data, checksum included
            length = in.u32("a PNG chunk");
            int type = in.s32("a PNG chunk");
            if (!isChunkName(type)) {
                throw new IncompleteImageException("broken PNG file (a chunk without a name)");
            }
            if (type == IDAT) {
                break;
            }
            animated |= type == ACTL;
            checkedChunk(in, type, length);
        }
        long leftOfImageChunk = new RowReader(rows).read(in, length);
        readChunksAfterRows(in, leftOfImageChunk, animated);
    }

    /** Reads a chunk's data and checks its CRC; returns the data when it is short (the header). */
    private static byte[] checkedChunk(ImageBytes in, int type, long length) throws IOException {
        CRC32 crc = new CRC32();
        for (int shift = 24; shift >= 0; shift -= 8) {
            crc.update(type >>> shift);
        }
        byte[] buffer = new byte[(int) Math.min(length, 1 << 14)];
        for (long left = length; left > 0; ) {
            int n = in.readUpTo(buffer, (int) Math.min(buffer.length, left));
            if (n == 0) {
                throw new IncompleteImageException("the file ends inside a PNG chunk");
            }
            crc.update(buffer, 0, n);
            left -= n;
        }
        if (in.u32("a PNG checksum") != crc.getValue()) {
            throw new IncompleteImageException("broken PNG file (bad checksum)");
        }
        return buffer;
    }

    /**
     * Pillow's PngImageFile.load_end: after the rows, a cut inside a chunk's 8-byte header (or a
     * header that is not a chunk name) ends the file quietly; a chunk cut inside its data does not.
     * An animated PNG ends, for Pillow, at the next frame.
     */
    private static void readChunksAfterRows(ImageBytes in, long leftOfImageChunk, boolean animated)
            throws IOException {
        in.skipAvailable(leftOfImageChunk);
        byte[] header = new byte[8];
        while (true) {
            in.skipAvailable(4); // CRC, unchecked here as by Pillow
            if (in.readUpTo(header, 8) < 8) {
                return;
            }
            int type = int32(header, 4);
            if (!isChunkName(type) || type == IEND || (animated && type == FCTL)) {
                return;
            }
            in.skip(int32(header, 0) & 0xffffffffL, "a PNG chunk after the image data");
        }
    }

    /** Pillow's is_cid: four of [A-Za-z0-9_]. */
    private static boolean isChunkName(int type) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            int c = (type >>> shift) & 0xff;
            boolean word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9') || c == '_';
            if (!word) {
                return false;
            }
        }
        return true;
    }

    static int int32(byte[] bytes, int at) {
        return ((bytes[at] & 0xff) << 24) | ((bytes[at + 1] & 0xff) << 16)
                | ((bytes[at + 2] & 0xff) << 8) | (bytes[at + 3] & 0xff);
    }

    private static int tag(String name) {
        return (name.charAt(0) << 24) | (name.charAt(1) << 16) | (name.charAt(2) << 8)
                | name.charAt(3);
    }

    /**
     * Inflates IDAT chunks until every row is there, step for step as Pillow's ZipDecode: one
     * row at a time, and only while compressed input is left over. zlib can hold back output it
     * has already decoded (the end of a long match); Pillow asks the file for more input to get
     * it, and refuses the file if it ends there.
     */
    static final class RowReader {
        private final Rows rows;
        private final Inflater inflater = new Inflater();
        private final byte[] output = new byte[1 << 16];
        private long filled; // bytes of the current row so far
        private int filter; // the current row's first byte: its filter type

        RowReader(Rows rows) {
            this.rows = rows;
        }

        /** Reads IDAT chunks, the first one's header already read; returns what is left of it. */
        long read(ImageBytes in, long firstLength) throws IOException {
            byte[] input = new byte[1 << 14];
            try {
                for (long length = firstLength; ; length = nextImageChunk(in)) {
                    for (long left = length; left > 0; ) {
                        int n = in.readUpTo(input, (int) Math.min(input.length, left));
                        if (n == 0) {
                            throw new IncompleteImageException("the PNG image data ends early");
                        }
                        left -= n;
                        inflater.setInput(input, 0, n);
                        if (rowsDone()) {
                            return left;
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

        private static long nextImageChunk(ImageBytes in) throws IOException {
            long length = in.u32("the PNG image data");
            if (in.s32("the PNG image data") != IDAT) {
                throw new IncompleteImageException("the PNG image data ends early");
            }
            return length;
        }

        /** Pillow's loop over the input it was given; true once the image is done. */
        private boolean rowsDone() throws IOException, DataFormatException {
            while (inflater.getRemaining() > 0) {
                int remaining = inflater.getRemaining();
                long produced = inflateUpTo(rows.current() - filled);
                filled += produced;
                if (filled < rows.current()) {
                    boolean stuck = produced == 0 && inflater.getRemaining() == remaining;
                    if (inflater.finished() || inflater.needsDictionary() || stuck) {
                        throw new IncompleteImageException("broken PNG data stream");
                    }
                    continue; // the input is used up
                }
                if (filter > 4) {
                    throw new IncompleteImageException("unrecognized PNG row filter " + filter);
                }
                filled = 0;
                if (!rows.next() || inflater.finished()) {
                    return true; // Pillow stops at the last row, or where the stream ends
                }
            }
            return false;
        }

        /** One inflate call of Pillow's: what zlib gives now, up to {@code wanted} bytes. */
        private long inflateUpTo(long wanted) throws DataFormatException {
            long produced = 0;
            while (produced < wanted) {
                int ask = (int) Math.min(output.length, wanted - produced);
                int n = inflater.inflate(output, 0, ask);
                if (n > 0 && filled + produced == 0) {
                    filter = output[0] & 0xff;
                }
                produced += n;
                if (n < ask) {
                    break; // zlib has nothing more to give without more input
                }
            }
            return produced;
        }
    }

    /** The filtered rows a PNG holds, in order: one filter byte each, per Adam7 pass if any. */
    static final class Rows {
        private static final int[][] ADAM7 = { // first column, first row, column step, row step
            {0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2},
            {0, 1, 1, 2}
        };
        private final long[] length; // per pass, with the filter byte
        private final long[] count; // per pass
        private int pass;
        private long done;

        /** From the 13 bytes of IHDR. */
        static Rows of(byte[] header) throws IncompleteImageException {
            int width = int32(header, 0);
            int height = int32(header, 4);
            if (width <= 0 || height <= 0) {
                throw new IncompleteImageException("a PNG of " + width + "x" + height + " pixels");
            }
            if (header[11] != 0) {
                throw new IncompleteImageException("unknown PNG filter category");
            }
            int bits = bitsPerPixel(header[8] & 0xff, header[9] & 0xff);
            return new Rows(width, height, bits, header[12] != 0);
        }

        private Rows(int width, int height, int bitsPerPixel, boolean interlaced) {
            int[][] passes = interlaced ? ADAM7 : new int[][] {{0, 0, 1, 1}};
            length = new long[passes.length];
            count = new long[passes.length];
            for (int i = 0; i < passes.length; i++) {
                int[] p = passes[i];
                long columns = ((long) width - p[0] + p[2] - 1) / p[2];
                length[i] = 1 + (columns * bitsPerPixel + 7) / 8;
                count[i] = columns > 0 ? ((long) height - p[1] + p[3] - 1) / p[3] : 0;
            }
            skipEmptyPasses();
        }

        /** Pillow's _MODES: the bit depths each colour type allows. */
        private static int bitsPerPixel(int depth, int colorType) throws IncompleteImageException {
            boolean eightOr16 = depth == 8 || depth == 16;
            boolean upTo8 = depth == 1 || depth == 2 || depth == 4 || depth == 8;
            switch (colorType) {
                case 0: // grey
                    if (upTo8 || depth == 16) {
                        return depth;
                    }
                    break;
                case 3: // palette
                    if (upTo8) {
                        return depth;
                    }
                    break;
                case 2: // RGB
                case 4: // grey + alpha
                case 6: // RGBA
                    if (eightOr16) {
                        return depth * (colorType == 2 ? 3 : colorType == 4 ? 2 : 4);
                    }
                    break;
                default:
                    break;
            }
            throw new IncompleteImageException(
                    "unknown PNG mode: depth " + depth + ", colour type " + colorType);
        }

        long current() {
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
}
