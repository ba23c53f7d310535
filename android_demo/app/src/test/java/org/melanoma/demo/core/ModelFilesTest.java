package org.melanoma.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ModelFilesTest {
    // Removed after each test; Files.createTempDirectory left a folder in /tmp per test and run.
    @Rule public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void twoManifestsInOneFolderAreAnErrorNotAPick() throws IOException {
        File dir = tmp.newFolder("models");
        assertTrue(new File(dir, "a-executorch-int8.pte.manifest.json").createNewFile());
        assertTrue(new File(dir, "b-executorch-fp32.pte.manifest.json").createNewFile());
        try {
            ModelFiles.findManifest(dir);
            fail("picked one of two manifests");
        } catch (ManifestException expected) {
            assertTrue(expected.getMessage(),
                    expected.getMessage().startsWith("found 2 manifests in "));
        }
    }

    @Test
    public void aFolderNamedLikeAManifestIsNotOne() throws IOException, ManifestException {
        File dir = tmp.newFolder("models");
        assertTrue(new File(dir, "x.pte.manifest.json").mkdir());
        assertNull(ModelFiles.findManifest(dir));
        File manifest = new File(dir, "m-executorch-int8.pte.manifest.json");
        assertTrue(manifest.createNewFile());
        assertEquals(manifest, ModelFiles.findManifest(dir));
    }

    @Test
    public void aManifestThatIsNotUtf8IsRefusedAsPythonRefusesIt() throws IOException {
        // read_manifest decodes strictly; a replacement character must not slip into a name.
        File dir = tmp.newFolder("models");
        byte[] json = SampleManifest.JSON.replace("\"cnn\"", "\"cnn\u00e9\"")
                .getBytes(StandardCharsets.UTF_8);
        byte[] latin1 = new byte[json.length - 1]; // e-acute as one Latin-1 byte, 0xE9
        int at = SampleManifest.JSON.indexOf("\"cnn\"") + 4;
        System.arraycopy(json, 0, latin1, 0, at);
        latin1[at] = (byte) 0xe9;
        System.arraycopy(json, at + 2, latin1, at + 1, json.length - at - 2);
        File manifest = new File(dir, "cnn-executorch-int8.pte.manifest.json");
        Files.write(manifest.toPath(), latin1);
        try {
            ModelFiles.openManifest(manifest);
            fail("read a manifest that is not UTF-8");
        } catch (ManifestException expected) {
            assertEquals(manifest.getName() + ": manifest is not valid UTF-8 text",
                    expected.getMessage());
        }
    }

    @Test
    public void aManifestOverTheLimitIsRefusedWithoutReadingIt() throws IOException {
        // 4 GB of zeros (a sparse file): read whole, it was an OutOfMemoryError, not a refusal.
        File manifest = tmp.newFile("cnn-executorch-int8.pte.manifest.json");
        try (RandomAccessFile file = new RandomAccessFile(manifest, "rw")) {
            file.setLength(4L << 30);
        }
        try {
            ModelFiles.openManifest(manifest);
            fail("read a 4 GB manifest");
        } catch (ManifestException expected) {
            assertEquals(manifest.getName() + ": over 1048576 bytes, not a manifest the exporter"
                    + " writes", expected.getMessage());
        }
    }
}
