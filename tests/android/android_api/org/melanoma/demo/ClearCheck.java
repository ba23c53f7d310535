package org.melanoma.demo;

import java.io.File;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.pytorch.executorch.Module;

/**
 * The activity finishes for good while the worker is inside an inference: Android calls
 * ModelHolder.onCleared on the main thread, with the worker in Module.forward. ExecuTorch's
 * {@code destroy} throws if another thread is in a call on the Module, so the model must be
 * closed on the worker, after the inference:
 *
 * <pre>ClearCheck ROOT</pre>
 *
 * ROOT is a phone's folders as for HolderCheck, with a model bundled in {@code apk/model/}.
 * Prints one tab-separated line: load's result, how the inference ended (its logit, or what it
 * threw), how onCleared ended ("returned", or what it threw), whether the stand-in Module
 * refused a direct destroy during forward, the ExecuTorch Modules not destroyed once the
 * worker is done, and whether it finished.
 */
public final class ClearCheck {
    private ClearCheck() {}

    public static void main(String[] args) {
        int status = 0;
        try {
            check(args);
        } catch (Throwable e) {
            e.printStackTrace();
            status = 1;
        }
        System.exit(status); // a worker that a failed onCleared left running keeps the JVM alive
    }

    private static void check(String[] args) throws Exception {
        HolderCheck.Phone phone = new HolderCheck.Phone(new File(args[0]));
        ModelHolder holder = new ModelHolder();
        if (!holder.worker.submit(() -> holder.load(phone)).get()) {
            System.out.println("false\t" + holder.status);
            return;
        }
        Module.forwardEntered = new CountDownLatch(1);
        Module.forwardMayReturn = new CountDownLatch(1);
        Future<Float> logit = holder.worker.submit(() -> holder.classifier.logit(new float[3072]));
        if (!Module.forwardEntered.await(1, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the inference never reached forward");
        }
        String cleared = "returned";
        try {
            holder.onCleared(); // the main thread, while the worker is in forward
        } catch (RuntimeException e) {
            cleared = e.toString();
        }
        // The stand-in itself, as the real Module: destroy from another thread during forward
        // throws and frees nothing (a stand-in that let it, or blocked, would pass a holder
        // that closes on the main thread).
        String direct;
        try {
            Module.last.destroy();
            direct = "destroyed during forward";
        } catch (IllegalStateException e) {
            direct = "refused";
        }
        Module.forwardMayReturn.countDown();
        boolean finished = holder.worker.awaitTermination(10, TimeUnit.SECONDS);
        System.out.println("true\t" + ended(logit) + "\t" + cleared + "\t" + direct + "\t"
                + Module.undestroyed + "\t" + (finished ? "finished" : "still running"));
    }

    private static String ended(Future<Float> logit) throws InterruptedException {
        try {
            return String.valueOf(logit.get());
        } catch (ExecutionException e) {
            return e.getCause().toString();
        }
    }
}
