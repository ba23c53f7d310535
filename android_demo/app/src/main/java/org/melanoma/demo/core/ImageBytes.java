package org.melanoma.demo.core;

import java.io.IOException;
import java.io.InputStream;

/** A byte reader whose "need" methods throw when the file ends: the file is then cut off. */
final class ImageBytes {
    private final InputStream in;
    private final byte[] scratch = new byte[1 << 13];

    ImageBytes(InputStream in) {
        this.in = in;
    }

    int read() throws IOException {
        return in.read();
    }

    int need(String what) throws IOException {
        int b = in.read();
        if (b < 0) {
            throw endsInside(what);
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

    /** Reads up to {@code count} bytes into the start of {@code buffer}; fewer at the end. */
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
            throw endsInside(what);
        }
    }

    /**
     * Skips up to {@code count} bytes; fewer at the end of the file. Reads them rather than
     * calling InputStream.skip, which a FileInputStream (what a ContentResolver usually opens)
     * may report as done past the end of the file.
     */
    long skipAvailable(long count) throws IOException {
        long done = 0;
        while (done < count) {
            int n = in.read(scratch, 0, (int) Math.min(scratch.length, count - done));
            if (n < 0) {
                break;
            }
            done += n;
        }
        return done;
    }

    private static IOException endsInside(String what) {
        return new CompleteImage.IncompleteImageException("the file ends inside " + what);
    }
}
