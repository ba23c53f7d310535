package org.melanoma.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.graphics.RectF;
import android.util.AttributeSet;
import android.view.MotionEvent;
import android.view.ScaleGestureDetector;
import android.view.View;
import org.melanoma.demo.core.CropBox;

/**
 * Shows a photo (fit-centre) with a square crop the user drags onto the lesion and pinches to
 * resize. The crop is kept in full-resolution image pixels, so the box handed to the
 * preprocessing is exact whatever the size of the preview bitmap drawn here.
 */
public final class CropImageView extends View {
    /** Called when a drag or pinch ends, with the new crop box. */
    public interface Listener {
        void onCropChanged(CropBox box);
    }

    private final Paint imagePaint = new Paint(Paint.FILTER_BITMAP_FLAG);
    private final Paint shade = new Paint();
    private final Paint frame = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final RectF rect = new RectF();
    private final ScaleGestureDetector scaler;

    private Listener listener;
    private Bitmap preview; // display copy; may be smaller than the image
    private int imageWidth;
    private int imageHeight;
    private int minSide;
    private float top; // crop, in full-resolution image pixels
    private float left;
    private float side;
    private float scale; // image pixels -> view pixels
    private float offsetX;
    private float offsetY;
    private int activePointer = MotionEvent.INVALID_POINTER_ID;
    private float lastX;
    private float lastY;
    private boolean changed;

    public CropImageView(Context context, AttributeSet attrs) {
        super(context, attrs);
        shade.setColor(0x99000000);
        frame.setColor(Color.WHITE);
        frame.setStyle(Paint.Style.STROKE);
        frame.setStrokeWidth(2 * getResources().getDisplayMetrics().density);
        scaler = new ScaleGestureDetector(context, new Pinch());
    }

    public void setListener(Listener listener) {
        this.listener = listener;
    }

    /**
     * Show an image of {@code width x height} pixels (orientation applied) through its preview.
     * The crop starts at {@code box} if it fits, else at the centred square.
     */
    public void setImage(Bitmap preview, int width, int height, CropBox box, int minSide) {
        this.preview = preview;
        imageWidth = width;
        imageHeight = height;
        this.minSide = Math.min(minSide, Math.min(width, height));
        CropBox start = box != null && box.fitsIn(width, height)
                ? box : CropBox.centerSquare(height, width);
        top = start.top;
        left = start.left;
        side = start.side;
        clamp();
        layoutImage();
        invalidate();
    }

    /** Show no image again, as before the first {@link #setImage}. */
    public void clearImage() {
        preview = null;
        invalidate();
    }

    /** Back to the default crop: melanoma.preprocess.square_crop_box. */
    public void centre() {
        if (preview == null) {
            return;
        }
        CropBox box = CropBox.centerSquare(imageHeight, imageWidth);
        top = box.top;
        left = box.left;
        side = box.side;
        invalidate();
    }

    /** The crop in image pixels, or null when no image is shown. */
    public CropBox getCropBox() {
        if (preview == null) {
            return null;
        }
        int s = Math.max(1, Math.min(Math.round(side), Math.min(imageWidth, imageHeight)));
        int t = Math.max(0, Math.min(Math.round(top), imageHeight - s));
        int l = Math.max(0, Math.min(Math.round(left), imageWidth - s));
        return new CropBox(t, l, s);
    }

    @Override
    protected void onSizeChanged(int w, int h, int oldw, int oldh) {
        super.onSizeChanged(w, h, oldw, oldh);
        layoutImage();
    }

    private void layoutImage() {
        if (preview == null || getWidth() == 0 || getHeight() == 0) {
            return;
        }
        scale = Math.min((float) getWidth() / imageWidth, (float) getHeight() / imageHeight);
        offsetX = (getWidth() - imageWidth * scale) / 2f;
        offsetY = (getHeight() - imageHeight * scale) / 2f;
    }

    @Override
    protected void onDraw(Canvas canvas) {
        super.onDraw(canvas);
        if (preview == null || scale == 0) {
            return;
        }
        float right = offsetX + imageWidth * scale;
        float bottom = offsetY + imageHeight * scale;
        rect.set(offsetX, offsetY, right, bottom);
        canvas.drawBitmap(preview, null, rect, imagePaint);
        float cl = offsetX + left * scale;
        float ct = offsetY + top * scale;
        float cr = cl + side * scale;
        float cb = ct + side * scale;
        canvas.drawRect(offsetX, offsetY, right, ct, shade); // above the crop
        canvas.drawRect(offsetX, cb, right, bottom, shade); // below
        canvas.drawRect(offsetX, ct, cl, cb, shade); // left
        canvas.drawRect(cr, ct, right, cb, shade); // right
        canvas.drawRect(cl, ct, cr, cb, frame);
    }

    @Override
    public boolean onTouchEvent(MotionEvent event) {
        if (preview == null || scale == 0) {
            return false;
        }
        scaler.onTouchEvent(event);
        switch (event.getActionMasked()) {
            case MotionEvent.ACTION_DOWN:
                getParent().requestDisallowInterceptTouchEvent(true);
                track(event, 0);
                changed = false;
                return true;
            case MotionEvent.ACTION_MOVE: {
                int index = event.findPointerIndex(activePointer);
                if (index < 0 || scaler.isInProgress()) {
                    return true;
                }
                left += (event.getX(index) - lastX) / scale;
                top += (event.getY(index) - lastY) / scale;
                track(event, index);
                clamp();
                changed = true;
                invalidate();
                return true;
            }
            case MotionEvent.ACTION_POINTER_UP: {
                // Keep dragging with a finger that stays down, without a jump.
                int up = event.getActionIndex();
                track(event, up == 0 ? 1 : 0);
                return true;
            }
            case MotionEvent.ACTION_UP:
                performClick();
                endGesture();
                return true;
            case MotionEvent.ACTION_CANCEL:
                endGesture();
                return true;
            default:
                return true;
        }
    }

    @Override
    public boolean performClick() {
        return super.performClick();
    }

    private void endGesture() {
        activePointer = MotionEvent.INVALID_POINTER_ID;
        if (changed && listener != null) {
            listener.onCropChanged(getCropBox());
        }
        changed = false;
    }

    private void track(MotionEvent event, int index) {
        activePointer = event.getPointerId(index);
        lastX = event.getX(index);
        lastY = event.getY(index);
    }

    private void clamp() {
        float maxSide = Math.min(imageWidth, imageHeight);
        side = Math.max(minSide, Math.min(side, maxSide));
        left = Math.max(0, Math.min(left, imageWidth - side));
        top = Math.max(0, Math.min(top, imageHeight - side));
    }

    /** Pinching scales the square about its centre. */
    private final class Pinch extends ScaleGestureDetector.SimpleOnScaleGestureListener {
        @Override
        public boolean onScale(ScaleGestureDetector detector) {
            float centreX = left + side / 2f;
            float centreY = top + side / 2f;
            side *= detector.getScaleFactor();
            side = Math.max(minSide, Math.min(side, Math.min(imageWidth, imageHeight)));
            left = centreX - side / 2f;
            top = centreY - side / 2f;
            clamp();
            changed = true;
            invalidate();
            return true;
        }
    }
}
