package org.melanoma.demo;

import android.content.Context;
import android.content.ContextWrapper;
import android.content.res.AssetManager;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.melanoma.demo.core.ModelFiles;
import org.pytorch.executorch.Module;

/**
 * One start of the app: ModelHolder.load on a phone's folders under ROOT ({@code apk/model/}
 * the bundled model, {@code files/} the app's private files, {@code push/} the adb folder), with
 * ExecuTorch scripted to fail on the model named "new":
 *
 * <pre>HolderCheck ROOT CALL KIND [again] [all]</pre>
 *
 * CALL is the Module call that fails ("none" for no failure), KIND what it throws, or "die" for
 * a native crash that ends the process; CALL "facts" fails nothing, and the model has the
 * constant methods listed in the file KIND (a line each: name, tab, the string it returns);
 * CALL "execute" lists them so too, and running one fails; "again": the user taps "Try the model again" once the
 * start has loaded or failed; "all": the call fails on every model, not only on "new". Prints one tab-separated line: load's result (or "escaped" and the
 * throwable that would end the worker thread, and the app), the model line on screen, whether
 * it offers to try the model again, the installed model, the folders in {@code files/}, and the
 * ExecuTorch Modules not destroyed: once the start is over, then once the activity has finished
 * for good (ModelHolder.onCleared).
 */
public final class HolderCheck {
    private HolderCheck() {}

    /** The app's folders under one root; the rest of Context is not called. */
    static final class Phone extends ContextWrapper {
        private final File root;

        Phone(File root) {
            super(null);
            this.root = root;
        }

        @Override
        public Context getApplicationContext() {
            return this;
        }

        @Override
        public File getFilesDir() {
            return new File(root, "files");
        }

        @Override
        public File getExternalFilesDir(String type) {
            return new File(root, "push");
        }

        @Override
        public AssetManager getAssets() {
            return new AssetManager(new File(root, "apk"));
        }
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        Context phone = new Phone(new File(args[0]));
        Module.failAt = args[1];
        Module.failFor = args.length > 4 && "all".equals(args[4]) ? null : "new-";
        // "execute" needs the methods too: readFacts runs only those the file has
        boolean facts = "facts".equals(args[1]) || "execute".equals(args[1]);
        Module.dieInstead = "die".equals(args[2]);
        Module.failWith = facts ? null : throwable(args[2]);
        Module.constantsFor = Module.failFor;
        if (facts) {
            for (String line : Files.readAllLines(new File(args[2]).toPath(),
                    StandardCharsets.UTF_8)) {
                String[] nameAndValue = line.split("\t", 2);
                Module.constants.put(nameAndValue[0], nameAndValue[1]);
            }
        }
        ModelHolder holder = new ModelHolder();
        String outcome;
        try {
            boolean loaded = holder.load(phone);
            if (args.length > 3 && "again".equals(args[3])) {
                loaded = holder.tryAgain(phone);
            }
            // The status is the model line and a line per note: breaks printed as backslash n.
            outcome = loaded + "\t" + holder.status.replace("\n", "\\n") + "\t"
                    + holder.canTryAgain;
        } catch (Throwable e) {
            outcome = "escaped\t" + e + "\t?";
        }
        String[] folders = phone.getFilesDir().list();
        Arrays.sort(folders);
        int held = Module.undestroyed;
        holder.onCleared(); // the activity finished: the model is closed after queued work
        if (!holder.worker.awaitTermination(1, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the worker did not finish");
        }
        System.out.println(outcome + "\t" + installed(phone) + "\t" + String.join(",", folders)
                + "\t" + held + "\t" + Module.undestroyed);
    }

    /** What a failing ExecuTorch call throws: null for its usual ExecutorchRuntimeException. */
    private static Throwable throwable(String kind) {
        switch (kind) {
            case "illegal_argument": // Module.load's check of the path
                return new IllegalArgumentException("Cannot load model path: path is not readable");
            case "cpp": // fbjni's translation of a C++ exception
                return new RuntimeException("std::runtime_error");
            case "bad_alloc": // fbjni's translation of std::bad_alloc
                return new OutOfMemoryError("std::bad_alloc");
            case "unsatisfied_link": // libexecutorch.so missing
                return new UnsatisfiedLinkError("dlopen failed: library not found");
            default:
                return null;
        }
    }

    private static String installed(Context phone) {
        try {
            return ModelFiles.open(new File(phone.getFilesDir(), "model")).manifest.modelName;
        } catch (Exception e) {
            return "none: " + e.getMessage();
        }
    }
}
