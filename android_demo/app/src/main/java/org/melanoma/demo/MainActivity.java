package org.melanoma.demo;

import android.content.ActivityNotFoundException;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Build;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.TextView;
import androidx.activity.ComponentActivity;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.PickVisualMediaRequest;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.core.content.FileProvider;
import androidx.core.graphics.Insets;
import androidx.core.os.BundleCompat;
import androidx.core.view.ViewCompat;
import androidx.core.view.WindowCompat;
import androidx.core.view.WindowInsetsCompat;
import androidx.core.view.WindowInsetsControllerCompat;
import androidx.lifecycle.ViewModelProvider;
import java.io.File;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.melanoma.demo.core.CropBox;
import org.melanoma.demo.core.ImageTooSmallException;
import org.melanoma.demo.core.Screening;

/**
 * Pick a photo (photo picker) or take one (camera app), move the square onto the mole, and see
 * P(melanoma), its risk band and the inference time. Every failure becomes a message on screen.
 *
 * <p>Threading: one worker thread owns the model (ExecuTorch's Module is not thread-safe) and does
 * all decoding, preprocessing and inference; the UI thread only posts work and shows results.
 * The model and that thread live in {@link ModelHolder}, so a recreated activity reuses them.
 */
public final class MainActivity extends ComponentActivity {
    private static final int PREVIEW_MAX_SIDE = 1600; // display copy only; inference uses all pixels
    private static final int ERROR_COLOR = 0xFFB00020;
    private static final String KEY_IMAGE = "image";
    private static final String KEY_CAMERA = "camera";
    private static final String KEY_BOX = "box";

    private ModelHolder model; // the model and its worker thread, kept across recreation
    private final AtomicInteger latestRequest = new AtomicInteger(); // UI and worker

    // UI-thread state.
    private TextView modelStatus;
    private Button tryModelAgain;
    private TextView result;
    private TextView cropHint;
    private Button centreButton;
    private CropImageView cropView;
    private int normalColor;
    private Uri imageUri;
    private Uri openingUri; // being decoded; saved instead of imageUri if recreated meanwhile
    private Uri cameraUri;
    private Bitmap shownPhoto; // full resolution, upright; read by the worker

    private final ActivityResultLauncher<PickVisualMediaRequest> pickerLauncher =
            registerForActivityResult(new ActivityResultContracts.PickVisualMedia(), uri -> {
                if (uri != null) {
                    openImage(uri, null, false);
                }
            });

    private final ActivityResultLauncher<Uri> cameraLauncher =
            registerForActivityResult(new ActivityResultContracts.TakePicture(), saved -> {
                if (Boolean.TRUE.equals(saved) && cameraUri != null) {
                    openImage(cameraUri, null, false);
                } else {
                    show(getString(R.string.no_photo_taken), false);
                }
            });

    @Override
    protected void onCreate(Bundle state) {
        super.onCreate(state);
        setContentView(R.layout.activity_main);
        padForSystemBars(findViewById(R.id.root));
        model = new ViewModelProvider(this).get(ModelHolder.class);
        modelStatus = findViewById(R.id.model_status);
        tryModelAgain = findViewById(R.id.try_model_again);
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

        tryModelAgain.setOnClickListener(v -> {
            tryModelAgain.setVisibility(View.GONE);
            modelStatus.setText(R.string.loading_model);
            modelStatus.setTextColor(normalColor);
            model.worker.execute(() -> loadModel(true));
        });
        model.worker.execute(() -> loadModel(false)); // runs before any image work queued below
        if (state != null) {
            cameraUri = BundleCompat.getParcelable(state, KEY_CAMERA, Uri.class);
            Uri image = BundleCompat.getParcelable(state, KEY_IMAGE, Uri.class);
            int[] box = state.getIntArray(KEY_BOX);
            if (image != null) {
                openImage(image, box == null ? null : new CropBox(box[0], box[1], box[2]), true);
            }
        }
    }

    /**
     * With targetSdk 35, Android 15 draws the window edge to edge, under the status bar, the
     * navigation bar and any display cutout: pad the root by those insets, on top of its own
     * 12dp (android:fitsSystemWindows would replace that padding instead). Before Android 15 the
     * window stops at the bars, no such insets reach the layout, and the padding stays 12dp.
     */
    private void padForSystemBars(View root) {
        int left = root.getPaddingLeft();
        int top = root.getPaddingTop();
        int right = root.getPaddingRight();
        int bottom = root.getPaddingBottom();
        ViewCompat.setOnApplyWindowInsetsListener(root, (v, insets) -> {
            Insets bars = insets.getInsets(WindowInsetsCompat.Type.systemBars()
                    | WindowInsetsCompat.Type.displayCutout());
            v.setPadding(left + bars.left, top + bars.top, right + bars.right,
                    bottom + bars.bottom);
            return WindowInsetsCompat.CONSUMED;
        });
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.VANILLA_ICE_CREAM) {
            // Edge to edge, the bars are transparent over this light theme's background, so their
            // icons must be dark to be seen. (Before 15 the theme paints the status bar dark,
            // which suits its default light icons: leave it.)
            WindowInsetsControllerCompat icons =
                    WindowCompat.getInsetsController(getWindow(), root);
            icons.setAppearanceLightStatusBars(true);
            icons.setAppearanceLightNavigationBars(true);
        }
    }

    @Override
    protected void onSaveInstanceState(Bundle state) {
        super.onSaveInstanceState(state);
        // A photo still being opened is the one the user asked for last; the square on screen
        // belongs to the previous photo, so it is not saved with it.
        state.putParcelable(KEY_IMAGE, openingUri != null ? openingUri : imageUri);
        state.putParcelable(KEY_CAMERA, cameraUri);
        CropBox box = cropView.getCropBox();
        if (box != null && openingUri == null) {
            state.putIntArray(KEY_BOX, new int[] {box.top, box.left, box.side});
        }
    }

    // No onDestroy: the model is closed by ModelHolder.onCleared when the activity finishes for
    // good, not when it is only recreated.

    /**
     * Worker: load the model, or reuse the one an earlier instance loaded, and say so;
     * {@code again}: the user asked to load a model that took the app down on an earlier start,
     * or the bundled one that was rolled back.
     */
    private void loadModel(boolean again) {
        boolean ok = again ? model.tryAgain(getApplicationContext())
                : model.load(getApplicationContext());
        String text = model.status;
        boolean offerAgain = model.canTryAgain;
        post(() -> {
            modelStatus.setText(text);
            modelStatus.setTextColor(ok ? normalColor : ERROR_COLOR);
            tryModelAgain.setVisibility(offerAgain ? View.VISIBLE : View.GONE);
            if (again) {
                analyse(cropView.getCropBox()); // the result on screen is from the model before
            }
        });
    }

    private void takePhoto() {
        try {
            File dir = new File(getCacheDir(), "camera");
            File[] old = dir.listFiles();
            // The photo on screen stays reopenable, and one still being decoded stays readable
            // (a second tap on "Take photo" while the first is opening must not delete it).
            String shown = imageUri == null ? null : imageUri.getLastPathSegment();
            String opening = openingUri == null ? null : openingUri.getLastPathSegment();
            if (old != null) {
                for (File f : old) {
                    if (!f.getName().equals(shown) && !f.getName().equals(opening)) {
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

    /**
     * Decode the photo on the worker, show it with a square, and analyse that square.
     * {@code restored}: the photo shown before the activity was recreated, from the saved state.
     */
    private void openImage(Uri uri, CropBox box, boolean restored) {
        int request = latestRequest.incrementAndGet();
        openingUri = uri;
        show(getString(R.string.opening_image), false);
        model.worker.execute(() -> {
            ImageLoader.Loaded loaded;
            try {
                loaded = ImageLoader.load(getContentResolver(), uri, PREVIEW_MAX_SIDE);
            } catch (IOException | RuntimeException e) {
                // SecurityException (no read grant) and the other runtime exceptions a content
                // provider may throw: uncaught on the worker they would crash the app.
                post(() -> openFailed(uri, request, restored,
                        "Could not open this photo: " + e.getMessage()));
                return;
            } catch (OutOfMemoryError e) {
                post(() -> openFailed(uri, request, restored,
                        "This photo is too large to open on this device."));
                return;
            }
            post(() -> {
                opened(uri);
                imageUri = uri;
                shownPhoto = loaded.full;
                cropView.setImage(loaded.preview, loaded.full.getWidth(), loaded.full.getHeight(),
                        box, model.minSide);
                cropHint.setVisibility(View.VISIBLE);
                centreButton.setEnabled(true);
                analyse(cropView.getCropBox());
            });
        });
    }

    /**
     * UI: the photo could not be opened. A restored photo is usually one picked with the photo
     * picker before Android closed the app in the background: the picker's read grant ended with
     * that process, so reading it now fails. Rather than a technical error, start over from no
     * photo and ask for it again (unless the user already opened another one meanwhile).
     */
    private void openFailed(Uri uri, int request, boolean restored, String message) {
        opened(uri);
        if (!restored) {
            show(message, true);
        } else if (request == latestRequest.get()) {
            imageUri = null;
            shownPhoto = null;
            cropView.clearImage();
            cropHint.setVisibility(View.GONE);
            centreButton.setEnabled(false);
            show(getString(R.string.photo_lost), false);
        }
    }

    /** UI: decoding {@code uri} ended; a photo asked for after it may still be opening. */
    private void opened(Uri uri) {
        if (uri.equals(openingUri)) {
            openingUri = null;
        }
    }

    /** Analyse the crop of the photo on screen; a newer request makes this one moot. */
    private void analyse(CropBox box) {
        Bitmap photo = shownPhoto;
        if (box == null || photo == null) {
            return;
        }
        int request = latestRequest.incrementAndGet();
        show(getString(R.string.analysing), false);
        model.worker.execute(() -> {
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
        int minSide = model.minSide;
        if (box.side < minSide) {
            return new Outcome("Image too small to crop: "
                    + new ImageTooSmallException(box.side, minSide).getMessage()
                    + " (this photo is " + width + "x" + height + " px).", true);
        }
        ExecuTorchClassifier classifier = model.classifier;
        if (classifier == null) {
            return new Outcome(model.problem, true);
        }
        try {
            long start = System.nanoTime();
            float[] input = model.preprocessor.toInput(new BitmapRowSource(photo), box);
            long preNanos = System.nanoTime() - start;
            float logit = classifier.logit(input);
            Screening s = Screening.of(
                    logit, model.bands, model.decideAt, preNanos, classifier.lastNanos());
            return new Outcome(s.summary(model.positiveClass) + String.format(Locale.ROOT,
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
