package org.melanoma.demo.core;

import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.junit.Test;

/**
 * {@link CompleteImage} on PNGs the golden cuts do not hold: pixels smaller than a byte, in a row
 * whose bits do not fill its last byte (the golden bilevel image is 64 px wide, a whole 8 bytes).
 */
public class CompleteImageTest {
    private static final int WIDTH = 9; // 1 bit per pixel: 2 bytes of pixels per row, 7 bits unused
    private static final int HEIGHT = 40;
    private static final int ROW = 1 + 2; // with its filter byte

    @Test
    public void aOneBitPngMissingItsLastRowsIsRefused() throws IOException {
        byte[] png = oneBitPng();
        requireWhole(png, true);
        // Stored (uncompressed) rows: the zlib header and the block header, then the rows.
        int rowsStart = indexOf(png, "IDAT") + 4 + 2 + 5;
        for (int rows : new int[] {HEIGHT - 1, 30, 27}) {
            // melanoma.images.decode_rgb refuses each: "image file is truncated"
            requireWhole(Arrays.copyOf(png, rowsStart + rows * ROW), false);
        }
    }

    private static void requireWhole(byte[] file, boolean whole) throws IOException {
        try {
            CompleteImage.require(new ByteArrayInputStream(file));
            if (!whole) {
                fail("read a PNG cut to " + file.length + " bytes");
            }
        } catch (CompleteImage.IncompleteImageException e) {
            if (whole) {
                fail("refused the whole PNG: " + e.getMessage());
            }
        }
    }

    /** A 9x40 1-bit grey PNG, its rows stored uncompressed in one IDAT chunk. */
    private static byte[] oneBitPng() throws IOException {
        ByteArrayOutputStream rows = new ByteArrayOutputStream();
        for (int y = 0; y < HEIGHT; y++) {
            rows.write(new byte[] {0, (byte) (y % 2 == 0 ? 0xaa : 0x55), (byte) 0x80});
        }
        Deflater deflater = new Deflater(Deflater.NO_COMPRESSION);
        deflater.setInput(rows.toByteArray());
        deflater.finish();
        byte[] buffer = new byte[1024];
        int compressed = deflater.deflate(buffer);
        deflater.end();

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream header = new ByteArrayOutputStream();
        DataOutputStream fields = new DataOutputStream(header);
        fields.writeInt(WIDTH);
        fields.writeInt(HEIGHT);
        fields.write(new byte[] {1, 0, 0, 0, 0}); // depth 1, grey, deflate, filters, no Adam7
        chunk(out, "IHDR", header.toByteArray());
        chunk(out, "IDAT", Arrays.copyOf(buffer, compressed));
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data)
            throws IOException {
        byte[] name = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(name);
        crc.update(data);
        DataOutputStream fields = new DataOutputStream(out);
        fields.writeInt(data.length);
        fields.write(name);
        fields.write(data);
        fields.writeInt((int) crc.getValue());
    }

    private static int indexOf(byte[] file, String type) {
        byte[] name = type.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i + name.length <= file.length; i++) {
            if (Arrays.equals(Arrays.copyOfRange(file, i, i + name.length), name)) {
                return i;
            }
        }
        throw new AssertionError("no " + type + " chunk");
    }
}
