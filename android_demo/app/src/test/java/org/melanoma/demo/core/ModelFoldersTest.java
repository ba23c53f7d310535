package org.melanoma.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class ModelFoldersTest {
    private static final String ARTIFACT = "cnn-executorch-int8.pte"; // SampleManifest's
    @Rule public TemporaryFolder tmp = new TemporaryFolder();

    private ModelFolders folders() throws IOException {
        return new ModelFolders(tmp.getRoot());
    }

    /**
     * Stage a model folder: a file named after the model, and a model that ModelFiles verifies
     * (its .pte holds the model's name).
     */
    private static void stage(ModelFolders folders, String model, String source)
            throws IOException {
        File staging = folders.freshStaging();
        write(new File(staging, model + ".pte"), model);
        File pte = new File(staging, ARTIFACT);
        write(pte, model);
        String sha256;
        try {
            sha256 = ModelFiles.sha256(pte);
        } catch (ManifestException e) {
            throw new IOException(e);
        }
        write(new File(staging, ARTIFACT + ModelFiles.MANIFEST_SUFFIX), SampleManifest
                .with(SampleManifest.repeat("ab", 32), sha256)
                .replace("\"size_bytes\": 4096", "\"size_bytes\": " + pte.length()));
        folders.swapIn(source);
    }

    private static void write(File file, String text) throws IOException {
        OutputStream out = new FileOutputStream(file);
        out.write(text.getBytes("UTF-8"));
        out.close();
    }

    private static boolean holds(File dir, String model) {
        return new File(dir, model + ".pte").isFile();
    }

    @Test
    public void aSwapKeepsTheLoadedModelUntilTheNewOneHasLoaded() throws IOException {
        ModelFolders folders = folders();
        stage(folders, "old", "assets 1");
        folders.keepInstalled(); // it loaded
        stage(folders, "new", "adb");
        assertTrue(holds(folders.installed, "new"));
        assertFalse(holds(folders.installed, "old")); // not a merge of the two folders
        assertTrue(holds(folders.previous, "old"));
        assertEquals("adb", folders.source());
        assertFalse(folders.staging.exists());
        folders.keepInstalled();
        assertFalse(folders.previous.exists());
        assertFalse(folders.rollBack("refused")); // nothing left to go back to
        assertTrue(holds(folders.installed, "new"));
    }

    @Test
    public void aModelThatDoesNotLoadIsRolledBack() throws IOException {
        ModelFolders folders = folders();
        stage(folders, "old", "assets 1");
        folders.keepInstalled();
        stage(folders, "broken", "adb");
        assertTrue(folders.rollBack("refused"));
        assertTrue(holds(folders.installed, "old"));
        assertFalse(holds(folders.installed, "broken"));
        assertEquals("assets 1", folders.source());
        assertFalse(folders.previous.exists());
        assertEquals(1, tmp.getRoot().list().length); // model/ only: the refused one is gone
    }

    @Test
    public void twoSwapsBeforeALoadGoBackToTheModelThatLoaded() throws IOException {
        ModelFolders folders = folders();
        stage(folders, "good", "assets 1");
        folders.keepInstalled();
        stage(folders, "bundled", "assets 2"); // an APK update, never loaded...
        stage(folders, "pushed", "adb"); // ...and a push in the same start
        assertTrue(folders.rollBack("refused"));
        assertTrue(holds(folders.installed, "good"));
    }

    @Test
    public void aFirstInstallHasNothingToRollBackTo() throws IOException {
        ModelFolders folders = folders();
        assertEquals("", folders.source());
        stage(folders, "first", "assets 1");
        assertFalse(folders.rollBack("refused"));
        assertTrue(holds(folders.installed, "first"));
    }

    @Test
    public void aCrashBetweenTwoRenamesIsRepairedOnTheNextStart() throws IOException {
        ModelFolders folders = folders();
        stage(folders, "old", "assets 1");
        folders.keepInstalled();
        folders.freshStaging();
        // swapIn's first rename only
        assertTrue(folders.installed.renameTo(folders.previous));
        folders.recover();
        assertTrue(holds(folders.installed, "old"));
        assertFalse(folders.previous.exists());
        folders.recover(); // nothing to repair: a no-op
        assertTrue(holds(folders.installed, "old"));
        // rollBack's first rename only: the refused model is out, the previous not yet in
        stage(folders, "broken", "adb");
        assertTrue(folders.installed.renameTo(new File(tmp.getRoot(), "model.refused")));
        folders.recover();
        assertTrue(holds(folders.installed, "old"));
        assertEquals(1, tmp.getRoot().list().length);
    }

    @Test
    public void aStartAfterTheAppDiedLoadingANewModelKeepsBothFolders() throws IOException {
        // Killed between swapIn and keepInstalled/rollBack (a native crash in the new .pte, or
        // the user leaving): the next start must load the new model again, with the old one
        // still there to go back to, not fail on the installed folder being in the way.
        ModelFolders folders = folders();
        stage(folders, "old", "assets 1");
        folders.keepInstalled();
        stage(folders, "new", "adb");
        folders.recover();
        assertTrue(holds(folders.installed, "new"));
        assertTrue(holds(folders.previous, "old"));
        assertTrue(folders.rollBack("refused"));
        assertTrue(holds(folders.installed, "old"));
    }

    @Test
    public void aLoadThatNeverEndedIsNotTriedAgainWhileThereIsAModelToGoBackTo()
            throws IOException {
        // The app died loading the new model (a native crash in ExecuTorch): loaded again, it
        // would die again on every start, with the old model kept but never put back.
        ModelFolders folders = folders();
        stage(folders, "old", "assets 1");
        folders.keepInstalled();
        stage(folders, "new", "adb");
        assertTrue(folders.beginLoad());
        ModelFolders nextStart = folders();
        nextStart.recover();
        assertFalse(nextStart.beginLoad());
        assertTrue(nextStart.rollBack("refused"));
        assertTrue(holds(nextStart.installed, "old"));
        assertTrue(nextStart.beginLoad()); // the model gone back to left no mark
    }

    @Test
    public void aModelThatLoadedBeforeAndThenDiedLoadingIsNotTriedAgain() throws IOException {
        // It loaded once; now every load ends the app (short of memory, say): tried at every
        // start, the app would die at every launch.
        ModelFolders folders = folders();
        stage(folders, "only", "assets 1");
        assertTrue(folders.beginLoad());
        folders.endLoad();
        folders.keepInstalled();
        assertTrue(folders.beginLoad()); // a later start, which dies here
        ModelFolders nextStart = folders();
        nextStart.recover();
        assertFalse(nextStart.beginLoad());
        assertTrue(nextStart.crashedLoading());
        nextStart.tryAgain();
        assertTrue(nextStart.beginLoad());
    }

    @Test
    public void aLoadThatNeverEndedWithNothingToGoBackToWaitsForTheUser() throws IOException {
        // Died on a first install: loaded on every start, it would end the app at every launch.
        ModelFolders folders = folders();
        stage(folders, "first", "assets 1");
        assertFalse(folders.crashedLoading());
        assertTrue(folders.beginLoad());
        ModelFolders nextStart = folders();
        nextStart.recover();
        assertFalse(nextStart.beginLoad());
        assertTrue(nextStart.crashedLoading());
        assertFalse(nextStart.rollBack("refused"));
        assertFalse(nextStart.beginLoad()); // nor on the start after
        nextStart.tryAgain(); // the user asked
        assertFalse(nextStart.crashedLoading());
        assertTrue(nextStart.beginLoad());
        nextStart.endLoad();
        nextStart.keepInstalled();
        assertTrue(nextStart.beginLoad());
    }

    @Test
    public void aBundledModelThatWasRolledBackIsDeclinedUntilTheUserAsks() throws IOException {
        // The APK still bundles it: installed again on the next start, a model that crashed the
        // app would crash it again, every other start.
        ModelFolders folders = folders();
        stage(folders, "old", "assets 1");
        folders.keepInstalled();
        stage(folders, "new", "assets 2");
        assertNull(folders.declined("assets 2"));
        assertTrue(folders.rollBack("why, in one line"));
        ModelFolders nextStart = folders();
        nextStart.recover();
        assertEquals("why, in one line", nextStart.declined("assets 2"));
        assertNull(nextStart.declined("assets 3")); // an APK that bundles another model
        assertNull(nextStart.declined("assets 1"));
        assertTrue(nextStart.beginLoad()); // the model gone back to dies loading, in its turn
        ModelFolders third = folders();
        third.tryAgain(); // first the model that crashed, which the line names...
        assertEquals("why, in one line", third.declined("assets 2"));
        assertTrue(third.beginLoad());
        third.endLoad();
        third.tryAgain(); // ...then the declined one
        assertNull(third.declined("assets 2"));
    }

    @Test
    public void onlyABundledModelIsDeclinedAndOnlyUntilTheNextSwap() throws IOException {
        ModelFolders folders = folders();
        stage(folders, "old", "assets 1");
        folders.keepInstalled();
        stage(folders, "pushed", "adb"); // push_model.sh removed it from the push folder
        assertTrue(folders.rollBack("why"));
        assertNull(folders.declined("adb"));
        stage(folders, "new", "assets 2");
        assertTrue(folders.rollBack("why"));
        stage(folders, "other", "adb");
        assertTrue(folders.rollBack("why not")); // a push undone: "assets 2" stays out
        assertEquals("why", folders.declined("assets 2"));
        stage(folders, "other", "adb");
        folders.keepInstalled(); // a pushed model loaded: nothing stays declined
        assertNull(folders.declined("assets 2"));
    }

    @Test
    public void aLoadThatEndedIsTriedAgain() throws IOException {
        ModelFolders folders = folders();
        stage(folders, "first", "assets 1");
        folders.keepInstalled();
        stage(folders, "new", "adb");
        assertTrue(folders.beginLoad());
        folders.endLoad(); // refused without dying (no runtime library): tried on the next start
        assertFalse(folders.crashedLoading());
        assertTrue(folders.beginLoad());
    }

    @Test
    public void aPreviousFolderWhoseDeleteWasCutShortIsNotGoneBackTo() throws IOException {
        // keepInstalled deletes the previous folder file by file once the new model has loaded;
        // killed partway, it left the old manifest without its model. A later refusal of the
        // new model (ExecuTorch out of memory) rolled back to that: no usable model at all, and
        // the one that had loaded deleted.
        ModelFolders folders = folders();
        stage(folders, "old", "assets 1");
        folders.keepInstalled();
        stage(folders, "new", "adb");
        File kept = tmp.newFolder("kept");
        for (File file : folders.previous.listFiles()) {
            assertTrue(file.renameTo(new File(kept, file.getName())));
        }
        folders.keepInstalled();
        assertTrue(kept.renameTo(folders.previous)); // as if the delete had stopped here...
        assertTrue(new File(folders.previous, ARTIFACT).delete()); // ...after the .pte
        ModelFolders nextStart = folders();
        nextStart.recover();
        assertFalse(nextStart.previous.exists());
        assertFalse(nextStart.rollBack("refused"));
        assertTrue(holds(nextStart.installed, "new"));
    }

    @Test
    public void aLeftoverStagingFolderIsEmptiedBeforeTheNextCopy() throws IOException {
        ModelFolders folders = folders();
        File staging = folders.freshStaging();
        assertTrue(new File(staging, "half-copied.pte").createNewFile()); // an interrupted copy
        stage(folders, "next", "adb");
        assertFalse(new File(folders.installed, "half-copied.pte").exists());
        assertTrue(holds(folders.installed, "next"));
    }
}
