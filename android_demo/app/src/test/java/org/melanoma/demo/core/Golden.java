package org.melanoma.demo.core;

import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.junit.Assume;

/**
 * The golden dir written by tests/android/test_jvm_parity.py, passed as -Dmelanoma.golden=DIR.
 *
 * <p>jvm-tests.sh also sets -Dmelanoma.golden.required=true, so there a missing dir fails. Under
 * Gradle (./gradlew test) without -PmelanomaGolden=DIR the golden tests are skipped with a note,
 * and the other tests still run.
 */
final class Golden {
    private Golden() {}

    static File dir() {
        String path = System.getProperty("melanoma.golden", "");
        boolean required = Boolean.getBoolean("melanoma.golden.required");
        if (path.isEmpty()) {
            String how = "no golden dir: run `pytest tests/android` or pass -Dmelanoma.golden=DIR";
            if (required) {
                fail(how);
            }
            Assume.assumeTrue(how, false);
        }
        File dir = new File(path);
        assertTrue("golden dir " + dir + " does not exist", dir.isDirectory());
        return dir;
    }

    /** Rows of a tab-separated file with a header line; the header is checked. */
    static List<String[]> tsv(File file, String header) throws IOException {
        List<String[]> rows = new ArrayList<String[]>();
        BufferedReader in = new BufferedReader(
                new InputStreamReader(new FileInputStream(file), StandardCharsets.UTF_8));
        try {
            String first = in.readLine();
            if (!header.equals(first)) {
                fail(file + ": header is '" + first + "', expected '" + header + "'");
            }
            int columns = header.split("\t", -1).length;
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) {
                    continue;
                }
                String[] row = line.split("\t", -1);
                if (row.length != columns) {
                    fail(file + ": '" + line + "' has " + row.length + " columns, want " + columns);
                }
                rows.add(row);
            }
        } finally {
            in.close();
        }
        return rows;
    }

    /** A little-endian float32 file, as numpy's astype('<f4').tofile() writes it. */
    static float[] floats(File file) throws IOException {
        byte[] bytes = Files.readAllBytes(file.toPath());
        if (bytes.length % 4 != 0) {
            fail(file + ": " + bytes.length + " bytes is not a whole number of float32 values");
        }
        float[] values = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }
}
