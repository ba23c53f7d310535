package org.melanoma.demo.core;

import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * {@link CompleteImage} on JPEG and PNG files cut at many lengths must refuse what
 * melanoma.images.decode_rgb refuses and read what it reads (cuts.tsv, Python's verdicts).
 *
 * <p>One difference is allowed and counted: a JPEG missing only its end marker (one or both of
 * its last two bytes) that Pillow reads because libjpeg had already decoded every pixel. Telling
 * those apart needs a Huffman decoder; the app refuses them all, and loses no pixels it needed.
 */
public class CompleteImageParityTest {
    static final String HEADER = "file\tlength\tpython";

    @Test
    public void refusesWhatPythonRefusesAndReadsWhatItReads() throws Exception {
        File dir = Golden.dir();
        Map<String, byte[]> files = new HashMap<String, byte[]>();
        List<String> failures = new ArrayList<String>();
        int refusedByBoth = 0;
        int readByBoth = 0;
        int endMarkerOnly = 0;
        for (String[] row : Golden.tsv(new File(dir, "cuts.tsv"), HEADER)) {
            byte[] whole = files.get(row[0]);
            if (whole == null) {
                whole = Files.readAllBytes(new File(dir, row[0]).toPath());
                files.put(row[0], whole);
            }
            int length = Integer.parseInt(row[1]);
            String java = javaVerdict(whole, length);
            String where = row[0] + " cut to " + length + " of " + whole.length + " bytes";
            if (row[2].equals("refused")) {
                if (!java.equals("refused")) {
                    failures.add(where + ": Python refuses it, Java says " + java);
                }
                refusedByBoth++;
            } else if (!row[2].equals("ok")) {
                fail(where + ": unknown verdict '" + row[2] + "'");
            } else if (java.equals("ok")) {
                readByBoth++;
            } else if (missesOnlyTheJpegEndMarker(whole, length)) {
                endMarkerOnly++;
            } else {
                failures.add(where + ": Python reads it, Java says " + java);
            }
        }
        System.out.println("CompleteImage: " + files.size() + " files, " + refusedByBoth
                + " cuts refused by both, " + readByBoth + " read by both, " + endMarkerOnly
                + " cuts of a JPEG's end marker read by Python and refused by Java");
        if (!failures.isEmpty()) {
            int shown = Math.min(20, failures.size());
            fail(failures.size() + " cuts disagree:\n"
                    + String.join("\n", failures.subList(0, shown)));
        }
        assertTrue("no cut was refused: the golden cuts test nothing", refusedByBoth > 100);
        assertTrue("no whole file was read", readByBoth >= files.size());
    }

    private static String javaVerdict(byte[] whole, int length) {
        try {
            CompleteImage.require(new SkipsPastTheEnd(new ByteArrayInputStream(whole, 0, length)));
            return "ok";
        } catch (CompleteImage.IncompleteImageException e) {
            return "refused";
        } catch (IOException e) {
            return "an unexpected " + e;
        }
    }

    /**
     * What a ContentResolver usually opens, a FileInputStream, may do: report a skip as done
     * past the end of the file. A ByteArrayInputStream alone would hide a check that trusts it.
     */
    private static final class SkipsPastTheEnd extends FilterInputStream {
        SkipsPastTheEnd(InputStream in) {
            super(in);
        }

        @Override
        public long skip(long n) throws IOException {
            super.skip(n);
            return n;
        }
    }

    private static boolean missesOnlyTheJpegEndMarker(byte[] whole, int length) {
        int n = whole.length;
        boolean jpeg = n > 4 && (whole[0] & 0xff) == 0xff && (whole[1] & 0xff) == 0xd8;
        boolean endsWithEoi =
                n > 4 && (whole[n - 2] & 0xff) == 0xff && (whole[n - 1] & 0xff) == 0xd9;
        return jpeg && endsWithEoi && length >= n - 2 && length < n;
    }
}
