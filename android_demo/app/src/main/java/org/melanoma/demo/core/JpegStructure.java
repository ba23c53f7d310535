package org.melanoma.demo.core;

import java.io.IOException;
import org.melanoma.demo.core.CompleteImage.IncompleteImageException;

/**
 * A JPEG's markers from SOI to EOI, walked as libjpeg walks them (and Pillow's own header parser
 * before the first scan). Bytes after EOI are ignored: phones append trailers and the extra
 * pictures of an MPO file there.
 *
 * <p>Refused: a file that ends before EOI, an EOI before any scan, a scan before any frame
 * header, a second SOI, and the markers libjpeg stops at (codes it does not know, frame types it
 * does not decode). Corrupt bytes inside a scan or a table are not looked for. One known
 * difference from Pillow: a file missing only its EOI (one or both bytes) is read by Pillow when
 * libjpeg had already decoded every pixel; here it is refused.
 */
final class JpegStructure {
    private static final int TEM = 0x01;
    private static final int SOI = 0xd8;
    private static final int EOI = 0xd9;
    private static final int SOS = 0xda;

    private JpegStructure() {}

    /** Reads from just after the SOI marker to EOI. */
    static void requireWhole(ImageBytes in) throws IOException {
        boolean framed = false;
        boolean scanned = false;
        int marker = nextMarker(in);
        while (marker != EOI) {
            refuseUnreadable(marker, scanned);
            framed |= isFrame(marker);
            if (marker == SOS && !framed) {
                throw new IncompleteImageException("a JPEG scan before its frame header");
            }
            if (marker == TEM || isRestart(marker)) { // no length, no payload
                marker = nextMarker(in);
                continue;
            }
            int length = in.u16("a JPEG segment length");
            if (length < 2) {
                throw new IncompleteImageException("a JPEG segment of length " + length);
            }
            in.skip(length - 2, "a JPEG segment");
            scanned |= marker == SOS;
            marker = marker == SOS ? endOfScan(in) : nextMarker(in);
        }
        if (!scanned) {
            throw new IncompleteImageException("a JPEG that ends before any image data");
        }
    }

    private static void refuseUnreadable(int marker, boolean scanned) throws IOException {
        if (marker == SOI) {
            throw new IncompleteImageException("a second JPEG start-of-image marker");
        }
        boolean unsupportedFrame =
                (marker >= 0xc5 && marker <= 0xc8) || (marker >= 0xcd && marker <= 0xcf);
        if (unsupportedFrame) {
            throw new IncompleteImageException(String.format("a JPEG frame type (0xFF%02X) "
                    + "libjpeg does not decode", marker));
        }
        // Pillow's header parser knows no TEM; libjpeg skips it inside the image data.
        boolean known = (marker >= 0xc0 && marker <= 0xdd) || (marker >= 0xe0 && marker <= 0xef)
                || marker == 0xfe || (marker == TEM && scanned);
        if (!known) {
            throw new IncompleteImageException(String.format("an unknown JPEG marker 0xFF%02X",
                    marker));
        }
    }

    /** The SOF markers libjpeg decodes: baseline, extended, progressive, lossless; arithmetic. */
    private static boolean isFrame(int marker) {
        return (marker >= 0xc0 && marker <= 0xc3) || (marker >= 0xc9 && marker <= 0xcb);
    }

    private static boolean isRestart(int marker) {
        return marker >= 0xd0 && marker <= 0xd7;
    }

    /**
     * libjpeg's next_marker: skip anything up to 0xFF, then fill bytes; 0xFF 0x00 is not a
     * marker either (a stuffed data byte out of place), so the search goes on.
     */
    private static int nextMarker(ImageBytes in) throws IOException {
        while (true) {
            int b;
            do {
                b = in.need("the next JPEG marker");
            } while (b != 0xff);
            do {
                b = in.need("the next JPEG marker");
            } while (b == 0xff);
            if (b != 0x00) {
                return b;
            }
        }
    }

    /**
     * Walks entropy-coded data to the marker that ends it: 0xFF 0x00 is a stuffed data byte and
     * RSTn markers sit between restart intervals; anything else after 0xFF is the next marker.
     */
    private static int endOfScan(ImageBytes in) throws IOException {
        while (true) {
            if (in.need("the JPEG scan data") != 0xff) {
                continue;
            }
            int b;
            do {
                b = in.need("the JPEG scan data");
            } while (b == 0xff);
            if (b != 0x00 && !isRestart(b)) {
                return b;
            }
        }
    }
}
