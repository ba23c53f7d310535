package org.melanoma.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The manifest the exporter wrote (golden/model), read the way the app reads it: values, risk
 * bands, rejected manifests and a corrupt or truncated artifact. Expected values come from Python.
 */
public class ExportedManifestTest {
    @Rule public TemporaryFolder temp = new TemporaryFolder();

    @Test
    public void parsesTheExportedManifestWithPythonsValues() throws Exception {
        File dir = Golden.dir();
        Manifest m = ModelFiles.open(new File(dir, "model")).manifest;
        Map<String, String> want = new HashMap<String, String>();
        for (String[] row : Golden.tsv(new File(dir, "manifest_expect.tsv"), "key\tvalue")) {
            want.put(row[0], row[1]);
        }
        assertEquals(want.get("model_name"), m.modelName);
        assertEquals(want.get("target"), m.target);
        assertEquals(want.get("precision"), m.precision);
        assertEquals(want.get("positive_class"), m.output.positiveClass);
        assertEquals(Integer.parseInt(want.get("size")), m.preprocessing.size);
        assertEquals(Integer.parseInt(want.get("min_side")), m.preprocessing.minSide);
        assertArrayEquals(doubles(want.get("mean")), m.preprocessing.mean(), 0.0);
        assertArrayEquals(doubles(want.get("std")), m.preprocessing.std(), 0.0);
        String[] thresholds = want.get("thresholds").split(",");
        assertEquals("threshold count", thresholds.length, m.thresholds.size());
        for (int i = 0; i < thresholds.length; i++) { // manifest order, name=probability
            String[] pair = thresholds[i].split("=", 2);
            assertEquals(pair[0], m.thresholds.get(i).name);
            assertEquals(pair[0], Double.parseDouble(pair[1]), m.thresholds.get(i).probability, 0.0);
        }
    }

    @Test
    public void riskBandsMatchPythonsRule() throws Exception {
        File dir = Golden.dir();
        RiskBands bands = RiskBands.fromManifest(ModelFiles.open(new File(dir, "model")).manifest);
        List<String[]> rows =
                Golden.tsv(new File(dir, "bands.tsv"), "probability\tindex\tlabel");
        assertTrue("bands.tsv is empty", !rows.isEmpty());
        for (String[] row : rows) {
            RiskBands.Band band = bands.classify(Double.parseDouble(row[0]));
            assertEquals("p=" + row[0], Integer.parseInt(row[1]), band.index);
            assertEquals("p=" + row[0], row[2], band.label);
        }
    }

    @Test
    public void rejectsTheManifestsPythonRejects() throws Exception {
        File dir = new File(Golden.dir(), "bad_manifests");
        List<String[]> rows =
                Golden.tsv(new File(dir, "cases.tsv"), "file\tkind\tpython_message");
        assertTrue("no bad manifests", rows.size() >= 3);
        for (String[] row : rows) {
            String text = new String(Files.readAllBytes(new File(dir, row[0]).toPath()), "UTF-8");
            try {
                ManifestParser.parse(text);
                fail(row[0] + ": accepted, but Python refused it: " + row[2]);
            } catch (ManifestException e) {
                String got = e.getMessage();
                if (row[1].equals("json")) {
                    assertTrue(row[0] + ": " + got, got.startsWith("manifest is not valid JSON"));
                } else if (row[1].equals("schema")) {
                    assertTrue(row[0] + ": " + e, e instanceof UnknownSchemaVersionException);
                    assertTrue(row[0] + ": " + got, got.startsWith("manifest: schema_version "));
                } else {
                    assertEquals(row[0] + " (same message as Python)", row[2], got);
                }
            }
        }
    }

    @Test
    public void refusesACorruptTruncatedOrMissingArtifact() throws Exception {
        File model = new File(Golden.dir(), "model");
        File copy = copyDir(model, temp.newFolder("model"));
        File artifact = ModelFiles.open(copy).artifact;

        RandomAccessFile file = new RandomAccessFile(artifact, "rw");
        try {
            file.seek(file.length() / 2);
            int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x01); // one flipped bit
        } finally {
            file.close();
        }
        assertRefused(copy, "is corrupt: sha256");

        file = new RandomAccessFile(artifact, "rw");
        try {
            file.setLength(file.length() - 1);
        } finally {
            file.close();
        }
        assertRefused(copy, "bytes but its manifest says");

        assertTrue(artifact.delete());
        assertRefused(copy, "is missing");
        assertRefused(temp.newFolder("empty"), "no model found");
    }

    private static void assertRefused(File dir, String fragment) {
        try {
            ModelFiles.open(dir);
            fail(dir + ": accepted, expected '" + fragment + "'");
        } catch (ManifestException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(fragment));
        }
    }

    private static File copyDir(File from, File to) throws IOException {
        File[] files = from.listFiles();
        assertTrue(from + " is empty", files != null && files.length > 0);
        for (File f : files) {
            Files.copy(f.toPath(), new File(to, f.getName()).toPath());
        }
        return to;
    }

    private static double[] doubles(String csv) {
        String[] parts = csv.split(",");
        double[] out = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Double.parseDouble(parts[i]);
        }
        return out;
    }
}
