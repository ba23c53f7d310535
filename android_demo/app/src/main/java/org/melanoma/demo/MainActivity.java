package org.melanoma.demo;

import android.content.ActivityNotFoundException;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.TextView;
import androidx.activity.ComponentActivity;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.PickVisualMediaRequest;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.core.content.FileProvider;
import androidx.core.os.BundleCompat;
import java.io.File;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.melanoma.demo.core.CropBox;
import org.melanoma.demo.core.ImageTooSmallException;
import org.melanoma.demo.core.Manifest;
import org.melanoma.demo.core.ManifestException;
import org.melanoma.demo.core.Preprocessor;
import org.melanoma.demo.core.RiskBands;
import org.melanoma.demo.core.Screening;

/**
 * Pick a photo (photo picker) or take one (camera app), move the square onto the mole, and see
 * P(melanoma), its risk band and the inference time. Every failure becomes a message on screen.
 *
 * <p>Threading: one worker thread owns the model (ExecuTorch's Module is not thread-safe) and does
 * all decoding, preprocessing and inference; the UI thread only posts work and shows results.
 */
public final class MainActivity extends ComponentActivity {
    private static final int PREVIEW_MAX_SIDE = 1600; // display copy only; inference uses all pixels
    private static final int ERROR_COLOR = 0xFFB00020;
    private static final String KEY_IMAGE = "image";
    private static final String KEY_CAMERA = "camera";
    private static final String KEY_BOX = "box";

    // Worker-thread state.
    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private ExecuTorchClassifier classifier;
    private Preprocessor preprocessor;
    private RiskBands bands;
    private String positiveClass = "melanoma";
    private String modelProblem = "The model is still loading.";

    // Shared: written by the worker once the manifest is read.
    private volatile int minSide = 32; // melanoma.preprocess.MIN_SIDE until the manifest says
    private final AtomicInteger latestRequest = new AtomicInteger();

    // UI-thread state.
    private TextView modelStatus;
    private TextView result;
    private TextView cropHint;
    private Button centreButton;
    private CropImageView cropView;
    private int normalColor;
    private Uri imageUri;
    private Uri cameraUri;
    private Bitmap shownPhoto; // full resolution, upright; read by the worker

    private final ActivityResultLauncher<PickVisualMediaRequest> pickerLauncher =
            registerForActivityResult(new ActivityResultContracts.PickVisualMedia(), uri -> {
                if (uri != null) {
                    openImage(uri, null);
                }
            });

    private final ActivityResultLauncher<Uri> cameraLauncher =
            registerForActivityResult(new ActivityResultContracts.TakePicture(), saved -> {
                if (Boolean.TRUE.equals(saved) && cameraUri != null) {
                    openImage(cameraUri, null);
                } else {
                    show(getString(R.string.no_photo_taken), false);
                }
            });

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        setContentView(R.layout.activity_main);
        modelStatus = findViewById(R.id.model_status);
        result = findViewById(R.id.result);
        cropHint = findViewById(R.id.crop_hint);
        centreButton = findViewById(R.id.centre_crop);
        cropView = findViewById(R.id.crop_view);
        normalColor = result.getCurrentTextColor();

        cropView.setListener(this::analyse);
        findViewById(R.id.pick_photo).setOnClickListener(v -> pickerLauncher.launch(
                new PickVisualMediaRequest.Builder()
                        .setMediaType(ActivityResultContracts.PickVisualMedia.ImageOnly.INSTANCE)
                        .build()));
        findViewById(R.id.take_photo).setOnClickListener(v -> takePhoto());
        centreButton.setOnClickListener(v -> {
            cropView.centre();
            analyse(cropView.getCropBox());
        });

        worker.execute(this::loadModel); // runs before any image work queued below
        if (state != null) {
            cameraUri = BundleCompat.getParcelable(state, KEY_CAMERA, Uri.class);
            Uri image = BundleCompat.getParcelable(state, KEY_IMAGE, Uri.class);
            int[] box = state.getIntArray(KEY_BOX);
            if (image != null) {
                openImage(image, box == null ? null : new CropBox(box[0], box[1], box[2]));
            }
        }
    }

    @Override
    protected void onSaveInstanceState(Bundle state) {
        super.onSaveInstanceState(state);
        state.putParcelable(KEY_IMAGE, imageUri);
        state.putParcelable(KEY_CAMERA, cameraUri);
        CropBox box = cropView.getCropBox();
        if (box != null) {
            state.putIntArray(KEY_BOX, new int[] {box.top, box.left, box.side});
        }
    }

    @Override
    protected void onDestroy() {
        worker.execute(() -> {
            if (classifier != null) {
                classifier.close();
                classifier = null;
            }
        });
        worker.shutdown();
        super.onDestroy();
    }

    /** Worker: install (first run or adb push), verify and load the model. */
    private void loadModel() {
        String status;
        boolean ok = false;
        try {
            ModelStore.Prepared prepared = new ModelStore(this).prepare();
            Manifest m = prepared.files.manifest;
            Preprocessor pre = Preprocessor.fromManifest(m);
            classifier = ExecuTorchClassifier.load(prepared.files.artifact, pre.size());
            preprocessor = pre;
            bands = RiskBands.fromManifest(m);
            positiveClass = m.output.positiveClass;
            minSide = pre.minSide();
            modelProblem = null;
            status = describe(m) + (prepared.note.isEmpty() ? "" : "\n" + prepared.note);
            ok = true;
        } catch (ManifestException e) {
            modelProblem = "No usable model: " + e.getMessage();
            status = modelProblem;
        } catch (ModelLoadException e) {
            modelProblem = "The model could not be loaded: " + e.getMessage();
            status = modelProblem;
        } catch (IOException e) {
            modelProblem = "Could not install the model: " + e.getMessage();
            status = modelProblem;
        }
        final String text = status;
        final boolean good = ok;
        post(() -> {
            modelStatus.setText(text);
            modelStatus.setTextColor(good ? normalColor : ERROR_COLOR);
        });
    }

    private String describe(Manifest m) {
        StringBuilder out = new StringBuilder();
        out.append("Model: ").append(m.modelName).append(" (").append(m.method).append(", ")
                .append(m.precision).append(", ExecuTorch). Thresholds:");
        for (Manifest.Threshold t : bands.thresholds()) {
            out.append(String.format(Locale.ROOT, " %s %.3f", t.name, t.probability));
        }
        return out.toString();
    }

    private void takePhoto() {
        try {
            File dir = new File(getCacheDir(), "camera");
            File[] old = dir.listFiles();
            String shown = imageUri == null ? null : imageUri.getLastPathSegment();
            if (old != null) {
                for (File f : old) {
                    if (!f.getName().equals(shown)) { // the photo on screen stays reopenable
                        f.delete();
                    }
                }
            }
            if (!dir.isDirectory() && !dir.mkdirs()) {
                throw new IOException("cannot create " + dir);
            }
            File photo = new File(dir, "photo-" + System.currentTimeMillis() + ".jpg");
            cameraUri = FileProvider.getUriForFile(this, getPackageName() + ".fileprovider", photo);
            cameraLauncher.launch(cameraUri);
        } catch (ActivityNotFoundException e) {
            show(getString(R.string.no_camera), true);
        } catch (IOException | IllegalArgumentException e) {
            show("Cannot prepare the camera: " + e.getMessage(), true);
        }
    }

    /** Decode the photo on the worker, show it with a square, and analyse that square. */
    private void openImage(Uri uri, CropBox box) {
        latestRequest.incrementAndGet();
        show(getString(R.string.opening_image), false);
        worker.execute(() -> {
            ImageLoader.Loaded loaded;
            try {
                loaded = ImageLoader.load(getContentResolver(), uri, PREVIEW_MAX_SIDE);
            } catch (IOException | SecurityException e) {
                post(() -> show("Could not open this photo: " + e.getMessage(), true));
                return;
            } catch (OutOfMemoryError e) {
                post(() -> show("This photo is too large to open on this device.", true));
                return;
            }
            post(() -> {
                imageUri = uri;
                shownPhoto = loaded.full;
                cropView.setImage(loaded.preview, loaded.full.getWidth(), loaded.full.getHeight(),
                        box, minSide);
                cropHint.setVisibility(View.VISIBLE);
                centreButton.setEnabled(true);
                analyse(cropView.getCropBox());
            });
        });
    }

    /** Analyse the crop of the photo on screen; a newer request makes this one moot. */
    private void analyse(CropBox box) {
        Bitmap photo = shownPhoto;
        if (box == null || photo == null) {
            return;
        }
        int request = latestRequest.incrementAndGet();
        show(getString(R.string.analysing), false);
        worker.execute(() -> {
            if (request != latestRequest.get()) {
                return;
            }
            Outcome outcome = screen(photo, box);
            post(() -> {
                if (request == latestRequest.get()) {
                    show(outcome.text, outcome.error);
                }
            });
        });
    }

    /** What the result line shows. */
    private static final class Outcome {
        final String text;
        final boolean error;

        Outcome(String text, boolean error) {
            this.text = text;
            this.error = error;
        }
    }

    /** Worker: preprocess the crop, run the model, and describe the result or the failure. */
    private Outcome screen(Bitmap photo, CropBox box) {
        int width = photo.getWidth();
        int height = photo.getHeight();
        if (box.side < minSide) {
            return new Outcome("Image too small to crop: "
                    + new ImageTooSmallException(box.side, minSide).getMessage()
                    + " (this photo is " + width + "x" + height + " px).", true);
        }
        if (classifier == null) {
            return new Outcome(modelProblem, true);
        }
        try {
            long start = System.nanoTime();
            float[] input = preprocessor.toInput(new BitmapRowSource(photo), box);
            long preNanos = System.nanoTime() - start;
            float logit = classifier.logit(input);
            Screening s = Screening.of(logit, bands, preNanos, classifier.lastNanos());
            return new Outcome(s.summary(positiveClass) + String.format(Locale.ROOT,
                    "%nSquare: %d px at (%d, %d) of a %dx%d photo",
                    box.side, box.left, box.top, width, height), false);
        } catch (ImageTooSmallException e) {
            return new Outcome("Image too small to crop: " + e.getMessage(), true);
        } catch (RuntimeException e) {
            return new Outcome("Could not analyse this photo: " + e.getMessage(), true);
        }
    }

    private void show(String text, boolean error) {
        result.setText(text);
        result.setTextColor(error ? ERROR_COLOR : normalColor);
    }

    private void post(Runnable action) {
        runOnUiThread(() -> {
            if (!isDestroyed()) {
                action.run();
            }
        });
    }
}
