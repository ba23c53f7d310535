package org.melanoma.demo;

import android.content.Context;
import androidx.lifecycle.ViewModel;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.melanoma.demo.core.Manifest;
import org.melanoma.demo.core.ManifestException;
import org.melanoma.demo.core.Preprocessor;
import org.melanoma.demo.core.RiskBands;
import org.melanoma.demo.core.Screening;

/**
 * The loaded model and the one thread that uses it, kept while the activity is recreated.
 *
 * <p>A ViewModel (androidx.lifecycle, which androidx.activity already depends on: its
 * ComponentActivity is the ViewModelStoreOwner) outlives a configuration change the manifest does
 * not handle itself (dark mode, language, font size...), so the recreated activity gets this same
 * object and does not load the .pte again. It is cleared when the activity finishes for good;
 * the next start loads the model again, and so still picks up a model pushed with adb.
 *
 * <p>Threading: ExecuTorch's Module is not thread-safe, so everything that touches the model
 * (loading, preprocessing, forward, closing) runs on {@link #worker}, a single thread shared by
 * every activity instance that uses this holder. The other fields are worker-only unless noted.
 */
public final class ModelHolder extends ViewModel {
    final ExecutorService worker = Executors.newSingleThreadExecutor();

    ExecuTorchClassifier classifier;
    Preprocessor preprocessor;
    RiskBands bands;
    String positiveClass = "melanoma";
    String decideAt = Screening.DEFAULT_THRESHOLD; // the manifest's default threshold
    String problem = "The model is still loading."; // why there is no classifier
    String status = ""; // the model line on screen
    boolean canTryAgain; // a model crashed the app or was rolled back: offer to try it again

    /** Read by the UI thread: melanoma.preprocess.MIN_SIDE until the manifest says. */
    volatile int minSide = 32;

    /**
     * Worker: install (first run or adb push), verify and load the model, unless an earlier
     * activity instance already did; a failed load is tried again. True if a model is loaded.
     */
    boolean load(Context context) {
        if (classifier != null) {
            return true;
        }
        ModelStore store = new ModelStore(context);
        try {
            ModelStore.Prepared prepared = prepareAndOpen(store);
            Manifest m = prepared.files.manifest;
            Preprocessor pre = Preprocessor.fromManifest(m);
            preprocessor = pre;
            bands = RiskBands.fromManifest(m);
            positiveClass = m.output.positiveClass;
            decideAt = m.decisionThresholdName();
            minSide = pre.minSide();
            problem = null;
            status = describe(m) + (prepared.note.isEmpty() ? "" : "\n" + prepared.note);
            return true;
        } catch (NotLoaded e) {
            problem = e.getMessage();
        } catch (ManifestException e) {
            problem = "No usable model: " + e.getMessage();
        } catch (ModelLoadException e) {
            problem = "The model could not be loaded: " + e.getMessage();
        } catch (IOException e) {
            problem = "Could not install the model: " + e.getMessage();
        } finally {
            canTryAgain = store.canTryAgain();
        }
        status = problem;
        return false;
    }

    /**
     * Worker: the user asked to try the model again (the button {@link #canTryAgain} shows):
     * load it though it took the app down on an earlier start, or install and load the bundled
     * model that was rolled back, in place of the previous one. True if a model is loaded.
     */
    boolean tryAgain(Context context) {
        new ModelStore(context).tryAgain();
        if (classifier != null) {
            classifier.close();
            classifier = null;
        }
        problem = "The model is still loading.";
        return load(context);
    }

    /** Install, open and keep the model, or go back to the last one that loaded; sets
     * {@link #classifier}. */
    private ModelStore.Prepared prepareAndOpen(ModelStore store)
            throws IOException, ManifestException, ModelLoadException, NotLoaded {
        synchronized (ModelStore.INSTALL_LOCK) {
            ModelStore.Prepared prepared = store.prepare();
            try {
                classifier = openInstalled(store, prepared);
            } catch (ModelLoadException e) {
                // It passed the manifest checks but ExecuTorch refuses it (a .pte from another
                // release) or took the app down on an earlier start: go back to the last model
                // that loaded, rather than fail each start.
                prepared = rollBack(store, prepared, e);
            }
            store.keepInstalled();
            return prepared;
        }
    }

    /**
     * {@code refused} did not load: go back to the last model that loaded and open it, with a
     * line saying why; with none to go back to, say why no model is loaded.
     */
    private ModelStore.Prepared rollBack(
            ModelStore store, ModelStore.Prepared refused, ModelLoadException e)
            throws IOException, ManifestException, ModelLoadException, NotLoaded {
        String name = refused.files.manifest.modelName;
        String undone = "The new model (" + name + ") could not be loaded: " + e.getMessage();
        String tryAgain = " " + ModelStore.tryAgainLine(name); // while a bundled one is declined
        ModelStore.Prepared previous = e.modelAtFault
                ? store.rollBack(undone + ". Went back to the previous model." + tryAgain) : null;
        if (previous == null) {
            if (store.crashedLoading()) {
                // Nothing to go back to (a first install): loading it again would end the app
                // again, at every start. Leave it to the user.
                throw new NotLoaded("The model " + name + " is not loaded: " + e.getMessage()
                        + "." + tryAgain);
            }
            if (store.canTryAgain()) {
                // A declined bundled model: keep the line that names it, and the button.
                throw new NotLoaded("The model could not be loaded: " + e.getMessage() + "\n"
                        + refused.note);
            }
            throw e;
        }
        // While a bundled model is declined the button installs it: name that one. It is the
        // model just undone, or one declined before a pushed model that was undone in its turn.
        String declined = store.declinedLine();
        String retry = declined == null ? "" : declined.startsWith(undone) ? tryAgain
                : "\n" + declined;
        String previousName = previous.files.manifest.modelName;
        try {
            classifier = openInstalled(store, previous); // marked: it may take the app down too
        } catch (ModelLoadException again) {
            // Say both: the previous model's failure alone reads as if it were the new one.
            if (store.crashedLoading()) { // the button tries the installed model first
                retry = " " + ModelStore.tryAgainLine(previousName);
            }
            throw new NotLoaded(undone + ". Went back to the previous model (" + previousName
                    + "), which could not be loaded either: " + again.getMessage() + "." + retry);
        }
        return new ModelStore.Prepared(
                previous.files, undone + ". Went back to the previous model." + retry);
    }

    /** Open the installed model, unless loading it took the app down on an earlier start. */
    private static ExecuTorchClassifier openInstalled(
            ModelStore store, ModelStore.Prepared prepared) throws ModelLoadException {
        if (!store.beginLoad()) {
            throw new ModelLoadException("the app closed while loading it on an earlier start"
                    + " (a crash in ExecuTorch, or not enough memory)");
        }
        try {
            return open(prepared);
        } finally {
            store.endLoad(); // only a load that never ends keeps its mark
        }
    }

    /** Why no model is loaded, as the line on screen (it names the model). */
    private static final class NotLoaded extends Exception {
        private static final long serialVersionUID = 1L;

        NotLoaded(String line) {
            super(line);
        }
    }

    private static ExecuTorchClassifier open(ModelStore.Prepared prepared)
            throws ModelLoadException {
        return ExecuTorchClassifier.load(prepared.files.artifact, prepared.files.manifest);
    }

    private String describe(Manifest m) {
        StringBuilder out = new StringBuilder();
        out.append("Model: ").append(m.modelName).append(" (").append(m.method).append(", ")
                .append(m.precision).append(", ExecuTorch). Thresholds:");
        for (Manifest.Threshold t : bands.thresholds()) {
            out.append(String.format(Locale.ROOT, " %s %.3f", t.name, t.probability));
        }
        // The terms travel with the model: a non-commercial one says so where it is used, and
        // whether the file itself states them.
        return out.append(". ").append(m.termsLine()).append(". ")
                .append(classifier.factsLine()).toString();
    }

    /** The activity finished for good (not recreated): free the model after queued work. */
    @Override
    protected void onCleared() {
        worker.execute(() -> {
            if (classifier != null) {
                classifier.close();
                classifier = null;
            }
        });
        worker.shutdown();
    }
}
