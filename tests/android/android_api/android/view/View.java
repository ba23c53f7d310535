package android.view;

import android.content.Context;
import android.content.res.Resources;
import android.graphics.Canvas;
import android.util.AttributeSet;

/** Stand-in for android.view.View (API 35). */
public class View {
    public static final int VISIBLE = 0x00000000;
    public static final int INVISIBLE = 0x00000004;
    public static final int GONE = 0x00000008;

    /** Stand-in for View.OnClickListener. */
    public interface OnClickListener {
        void onClick(View v);
    }

    public View(Context context, AttributeSet attrs) {}

    public void setOnClickListener(OnClickListener l) {}

    public void setVisibility(int visibility) {}

    public void setEnabled(boolean enabled) {}

    public int getPaddingLeft() {
        throw new UnsupportedOperationException("stand-in");
    }

    public int getPaddingTop() {
        throw new UnsupportedOperationException("stand-in");
    }

    public int getPaddingRight() {
        throw new UnsupportedOperationException("stand-in");
    }

    public int getPaddingBottom() {
        throw new UnsupportedOperationException("stand-in");
    }

    public void setPadding(int left, int top, int right, int bottom) {}

    public final int getWidth() {
        throw new UnsupportedOperationException("stand-in");
    }

    public final int getHeight() {
        throw new UnsupportedOperationException("stand-in");
    }

    public Resources getResources() {
        throw new UnsupportedOperationException("stand-in");
    }

    public final ViewParent getParent() {
        throw new UnsupportedOperationException("stand-in");
    }

    public void invalidate() {}

    protected void onSizeChanged(int w, int h, int oldw, int oldh) {}

    protected void onDraw(Canvas canvas) {}

    public boolean onTouchEvent(MotionEvent event) {
        throw new UnsupportedOperationException("stand-in");
    }

    public boolean performClick() {
        throw new UnsupportedOperationException("stand-in");
    }
}
