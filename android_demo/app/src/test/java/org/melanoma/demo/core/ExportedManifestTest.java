package org.melanoma.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The manifest the exporter wrote (golden/model), read the way the app reads it: values, both
 * schema versions, risk bands, rejected manifests and a corrupt or truncated artifact. Expected
 * values come from Python.
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
        assertEquals(Integer.parseInt(want.get("schema_version")), m.schemaVersion);
        assertEquals(want.get("model_name"), m.modelName);
        assertEquals(want.get("target"), m.target);
        assertEquals(want.get("precision"), m.precision);
        assertEquals(want.get("positive_class"), m.output.positiveClass);
        assertEquals(Integer.parseInt(want.get("size")), m.preprocessing.size);
        assertEquals(Integer.parseInt(want.get("min_side")), m.preprocessing.minSide);
        assertArrayEquals(doubles(want.get("mean")), m.preprocessing.mean(), 0.0);
        assertArrayEquals(doubles(want.get("std")), m.preprocessing.std(), 0.0);
        assertEquals(want.get("license"), m.license);
        assertEquals(want.get("attribution"), m.attribution);
        List<Manifest.Threshold> thresholds = thresholds(want.get("thresholds"));
        assertEquals("threshold count", thresholds.size(), m.thresholds.size());
        for (int i = 0; i < thresholds.size(); i++) { // manifest order
            assertEquals(thresholds.get(i).name, m.thresholds.get(i).name);
            assertEquals(thresholds.get(i).name, thresholds.get(i).probability,
                    m.thresholds.get(i).probability, 0.0);
        }
    }

    /** The exported manifest rewritten as every schema version Python reads. */
    @Test
    public void readsTheExportedManifestInEverySchemaVersion() throws Exception {
        File dir = new File(Golden.dir(), "manifest_versions");
        Manifest exported = ModelFiles.open(new File(Golden.dir(), "model")).manifest;
        for (int version = 1; version <= Manifest.NEWEST_SCHEMA_VERSION; version++) {
            File file = new File(dir, "v" + version + ".json");
            Manifest m = ManifestParser.parse(
                    new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8));
            assertEquals(file.getName(), version, m.schemaVersion);
            assertEquals(file.getName(), exported.modelName, m.modelName);
            assertEquals(file.getName(), exported.file.sha256, m.file.sha256);
            assertEquals(file.getName(), version == 1 ? null : "applied",
                    m.preprocessing.exifOrientation);
            assertEquals(file.getName(), version == 1 ? null : "composite_on_white",
                    m.preprocessing.alpha);
            assertEquals(file.getName(), version < 3 ? null : "convert_to_srgb",
                    m.preprocessing.colorProfile);
            assertEquals(file.getName(), version < 5 ? null : exported.preprocessing.steps,
                    m.preprocessing.steps);
            assertEquals(file.getName(), version < 6 ? null : exported.license, m.license);
            if (version < 4) {
                assertNull(file.getName(), m.quantization.inputRange);
            } else {
                assertArrayEquals(file.getName(), exported.quantization.inputRange,
                        m.quantization.inputRange, 0.0);
            }
        }
    }

    /**
     * Bands of the exported manifest ("manifest") and of other threshold sets (name=p,...), among
     * them the bundled reference models', whose youden lies below sensitivity_0.90.
     */
    @Test
    public void riskBandsMatchPythonsRule() throws Exception {
        File dir = Golden.dir();
        RiskBands exported =
                RiskBands.fromManifest(ModelFiles.open(new File(dir, "model")).manifest);
        List<String[]> rows = Golden.tsv(
                new File(dir, "bands.tsv"), "thresholds\tprobability\tindex\tlabel");
        Map<String, RiskBands> sets = new HashMap<String, RiskBands>();
        for (String[] row : rows) {
            RiskBands bands = row[0].equals("manifest") ? exported : sets.get(row[0]);
            if (bands == null) {
                bands = new RiskBands(thresholds(row[0]));
                sets.put(row[0], bands);
            }
            RiskBands.Band band = bands.classify(Double.parseDouble(row[1]));
            String where = row[0] + " p=" + row[1];
            assertEquals(where, Integer.parseInt(row[2]), band.index);
            assertEquals(where, row[3], band.label);
        }
        boolean youdenBelow = false; // the order of the default bundled model
        for (RiskBands bands : sets.values()) {
            youdenBelow |= bands.thresholds().get(0).name.equals("youden");
        }
        assertTrue("bands.tsv needs a threshold set with youden lowest", youdenBelow);
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
                } else if (row[1].equals("field")) { // a setting the app does not run
                    assertTrue(row[0] + ": '" + got + "' does not name " + row[2],
                            got.startsWith(row[2] + " ") || got.startsWith(row[2] + ":"));
                } else if (row[1].equals("newer")) { // a field in no version the app reads
                    assertTrue(row[0] + ": '" + got + "' does not say to update the app",
                            got.startsWith(row[2] + " (") && got.contains("Update the app"));
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

    /** "name=probability,..." in that order, as Python writes it. */
    private static List<Manifest.Threshold> thresholds(String csv) {
        List<Manifest.Threshold> out = new ArrayList<Manifest.Threshold>();
        for (String item : csv.split(",")) {
            String[] pair = item.split("=", 2);
            out.add(new Manifest.Threshold(pair[0], Double.parseDouble(pair[1]), 0, 0));
        }
        return out;
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
