package org.melanoma.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import org.junit.Test;

public class ModelFilesTest {
    @Test
    public void twoManifestsInOneFolderAreAnErrorNotAPick() throws IOException {
        File dir = Files.createTempDirectory("models").toFile();
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
        File dir = Files.createTempDirectory("models").toFile();
        assertTrue(new File(dir, "x.pte.manifest.json").mkdir());
        assertNull(ModelFiles.findManifest(dir));
        File manifest = new File(dir, "m-executorch-int8.pte.manifest.json");
        assertTrue(manifest.createNewFile());
        assertEquals(manifest, ModelFiles.findManifest(dir));
    }
}
