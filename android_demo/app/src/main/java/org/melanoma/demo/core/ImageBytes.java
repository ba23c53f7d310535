package org.melanoma.demo.core;

import java.io.IOException;
import java.io.InputStream;

/** A byte reader whose "need" methods throw when the file ends: the file is then cut off. */
final class ImageBytes {
    private final InputStream in;

    ImageBytes(InputStream in) {
        this.in = in;
    }

    int read() throws IOException {
        return in.read();
    }

    int need(String what) throws IOException {
        int b = in.read();
        if (b < 0) {
            throw new CompleteImage.IncompleteImageException("the file ends inside " + what);
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
            throw new CompleteImage.IncompleteImageException("the file ends inside " + what);
        }
    }

    /** Skips up to {@code count} bytes; fewer at the end of the file. */
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
